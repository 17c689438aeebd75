// The staff tablet: after a scan the page reloads with the scan field focused (autofocus);
// this only keeps a barcode scanner's Enter from submitting a form twice.
"use strict";

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.dataset.sent === "yes") event.preventDefault();
  else form.dataset.sent = "yes";
});

window.addEventListener("pageshow", () => {
  document.querySelectorAll("form").forEach((form) => { delete form.dataset.sent; });
});
