// The kiosk screen: the scan field keeps the focus for the keyboard-wedge scanner, scans and
// cart buttons update the cart in place (one request at a time, in order), the payment screen
// follows the order's status stream and then its receipt's printing, and a minute without input
// starts over (cancelling an unpaid order, after a warning).
"use strict";

function keepFocus() {
  const field = document.querySelector("[data-keep-focus]");
  if (!field) return;
  const typing = (el) => el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT");
  document.addEventListener("focusout", () => {
    setTimeout(() => { if (!typing(document.activeElement)) field.focus(); }, 0);
  });
  document.addEventListener("keydown", (event) => {
    // A scanner "types" into whatever has the focus: digits always go to the scan field.
    if (!typing(document.activeElement) && /^[0-9]$/.test(event.key)) field.focus();
  });
  field.focus();
}

function scanInPlace(form) {
  const cart = document.getElementById("cart");
  const code = document.getElementById("code");
  let queue = Promise.resolve();
  const send = async (value, op) => {
    const data = new FormData(form);
    data.set("code", value);
    data.set("op", op);
    const response = await fetch(form.action, { method: "POST", body: data, headers: { "X-Fragment": "cart" } });
    if (response.status === 401) { window.location.reload(); return; }
    cart.innerHTML = await response.text();
  };
  form.addEventListener("submit", (event) => {
    const submitter = event.submitter;
    if (submitter && submitter.hasAttribute("formaction")) return; // checkout: a real navigation
    event.preventDefault();
    const value = code.value;
    const op = submitter && submitter.value !== "scan" ? submitter.value : "";
    code.value = "";
    code.focus();
    queue = queue.then(() => send(value, op)).catch(() => window.location.reload());
  });
}

// The cart lives in the page: switching the language posts it to the other language's cart page.
function switchLanguageKeepingCart(form) {
  const link = document.querySelector("a[data-keeps-cart]");
  if (!link) return;
  link.addEventListener("click", (event) => {
    event.preventDefault();
    form.action = "/kiosk/cart" + new URL(link.href).search;
    form.submit(); // a real navigation: submit() fires no submit event for scanInPlace
  });
}

// States after which the order's status stream ends (pos.live.FINAL_STATES).
const FINAL_STATES = ["paid", "closed", "partially_refunded", "refunded"];

function followStatus(box) {
  const options = document.getElementById("pay-options");
  // The status fragment: the order's state and, once it is paid, its receipt's printing.
  const refresh = async () => {
    try {
      const response = await fetch(box.dataset.statusUrl, { headers: { "X-Fragment": "status" } });
      box.innerHTML = await response.text();
    } catch (error) {
      return false; // the network hiccuped: the next change or tick reads it again
    }
    const state = box.firstElementChild;
    if (state && state.dataset.paid === "yes" && options) options.hidden = true;
    return Boolean(state && state.dataset.final === "yes");
  };
  const untilPrinted = async () => {
    if (!(await refresh())) setTimeout(untilPrinted, 1000);
  };
  // The order's changes are pushed; only the printing of the receipt is read every second.
  const source = new EventSource(box.dataset.events);
  source.addEventListener("status", (event) => {
    if (FINAL_STATES.includes(JSON.parse(event.data).state)) {
      source.close();
      untilPrinted();
    } else {
      refresh();
    }
  });
}

// Whether the payment screen's order may still be paid, as its status last showed.
function orderOpen() {
  const status = document.querySelector("#kiosk-status [data-state]");
  return Boolean(status) && ["open", "paying"].includes(status.dataset.state);
}

// Whether a payment code waits for its payer's PIN, as the status last showed: the shopper is
// busy with their phone, not gone, until the provider answers or the worker reverses the code
// (90 s after its charge). Past PIN_WAIT_MS since the screen first saw it wait, the status is
// taken as stale (no worker, a lost stream): the idle reset goes on, and its cancel reverses it.
const PIN_WAIT_MS = 120 * 1000;
let pinWaitSeen = 0;
function awaitingPin() {
  if (!document.querySelector('#kiosk-status [data-pin="waiting"]')) {
    pinWaitSeen = 0;
    return false;
  }
  pinWaitSeen = pinWaitSeen || Date.now();
  return Date.now() - pinWaitSeen < PIN_WAIT_MS;
}

// Cancels through the screen's cancel form, which answers the start screen once the order is
// closed, or the order's own screen when it was paid meanwhile.
async function cancelOrder(root) {
  const form = document.getElementById("cancel-form");
  let next = root.dataset.home;
  try {
    const response = await fetch(form.action, { method: "POST", body: new FormData(form) });
    if (response.ok && new URL(response.url).pathname !== "/kiosk") next = response.url;
  } catch (error) {
    // The server is out of reach: the order's hold ends by itself.
  }
  window.location.assign(next);
}

// A shopper who walked away from an unpaid order must not hold its stock, but one paying on their
// phone has not touched the kiosk either: the minute's last seconds ask "are you still there?"
// before the order is cancelled; not while a payment code waits for its payer's PIN. Any other
// screen just starts over.
function resetWhenIdle(root) {
  const seconds = parseInt(root.dataset.idleSeconds, 10) || 60;
  const warning = document.getElementById("idle-warning");
  const warnFor = warning ? Math.min(parseInt(warning.dataset.seconds, 10) || 15, seconds) : 0;
  let timer = 0;
  const startOver = () => {
    const lines = document.querySelector("input[name=lines]");
    // Home is the kiosk's own language too: a shopper's choice of another is not kept.
    const home = window.location.pathname + window.location.search === root.dataset.home;
    const empty = lines && lines.value === "[]" && home;
    if (!empty) window.location.assign(root.dataset.home);
  };
  // Counted to a deadline, as a timer may fire late (a sleeping tablet, a busy page).
  const countDown = (deadline) => {
    // Paid meanwhile (its screen gets a minute of its own), or a code now waits for its PIN.
    if (!orderOpen() || awaitingPin()) return restart();
    const left = Math.ceil((deadline - Date.now()) / 1000);
    if (left <= 0) return cancelOrder(root);
    warning.querySelector("[data-countdown]").textContent = String(left);
    if (!warning.open) warning.showModal();
    timer = setTimeout(() => countDown(deadline), 1000);
  };
  const restart = () => {
    clearTimeout(timer);
    if (warning && warning.open) warning.close();
    timer = setTimeout(() => {
      if (awaitingPin()) restart();
      else if (warning && orderOpen()) countDown(Date.now() + warnFor * 1000);
      else if (warnFor) timer = setTimeout(startOver, warnFor * 1000); // the rest of the minute
      else startOver();
    }, (seconds - warnFor) * 1000);
  };
  const onInput = (event) => {
    // A tap on the warning waits for its click: closed under the finger, the warning would let
    // the tap land on the button below it.
    if (event.type === "pointerdown" && warning && warning.open) return;
    restart();
  };
  ["keydown", "pointerdown", "input"].forEach((kind) => document.addEventListener(kind, onInput, true));
  if (warning) warning.addEventListener("click", restart); // its button, or around it
  restart();
}

document.addEventListener("DOMContentLoaded", () => {
  keepFocus();
  const form = document.getElementById("scan-form");
  if (form) {
    scanInPlace(form);
    switchLanguageKeepingCart(form);
  }
  const status = document.getElementById("kiosk-status");
  if (status) followStatus(status);
  const root = document.getElementById("kiosk");
  if (root) resetWhenIdle(root);
});
