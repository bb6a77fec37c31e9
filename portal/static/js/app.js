// Sends the CSRF token with every htmx request (the token is set once in base.html's meta tag).
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) { event.detail.headers["X-CSRFToken"] = meta.content; }
});

// Forms or buttons marked data-confirm ask before submitting (no inline script: the CSP forbids it).
// The capture phase runs before htmx's own listener on a boosted form, so "cancel" really stops it.
document.addEventListener("submit", function (event) {
  var button = event.submitter;
  var message = (button && button.dataset.confirm) || event.target.dataset.confirm;
  if (message && !window.confirm(message)) {
    event.preventDefault();
    event.stopPropagation();
  }
}, true);
