// The app itself holds no state: api.js logs in when a request first needs a session (and again when
// it expires), and the checkout page keeps its own UI state.
App({});
