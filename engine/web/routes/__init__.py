"""Route modules, one per audience or area; each exposes `router` and the app includes them all."""
