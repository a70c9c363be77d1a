// The dashboard's own behaviour, as a file: its Content-Security-Policy runs no inline script.
// A new key's secret (shown once) is selected whole when it gets the focus, ready to copy.
document.addEventListener("focusin", function (e) {
  if (e.target.matches && e.target.matches("input.secret")) e.target.select();
});
