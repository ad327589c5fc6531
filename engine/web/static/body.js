// Run first in <body>: GOV.UK Frontend styles components for JavaScript only when these are set.
document.body.className += ' js-enabled' + ('noModule' in HTMLScriptElement.prototype ? ' govuk-frontend-supported' : '');
