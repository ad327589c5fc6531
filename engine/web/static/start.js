// A module script: starts GOV.UK Frontend's components (error summaries, details, tabs …).
import { initAll } from '/govuk-frontend/govuk-frontend.min.js';
initAll();
