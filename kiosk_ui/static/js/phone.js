// Progressive enhancement of the shopper's pages: +/- steppers and a running total on the
// counter page; the order's live status (server-sent events) and WeChat's payment sheet on the
// order page.
"use strict";

function yuan(fen) {
  return "¥" + (fen / 100).toFixed(2);
}

function lineFen(product) {
  const input = product.querySelector("input");
  const amount = Math.max(0, parseInt(input.value, 10) || 0);
  const price = parseInt(product.dataset.price, 10);
  return product.dataset.unit === "kg" ? Math.round((price * amount) / 1000) : price * amount;
}

function enhanceCounter(form) {
  const products = form.querySelectorAll(".product");
  const total = document.getElementById("cart-total");
  const update = () => {
    let fen = 0;
    products.forEach((product) => { fen += lineFen(product); });
    total.textContent = yuan(fen);
  };
  products.forEach((product) => {
    const input = product.querySelector("input");
    const step = parseInt(input.step, 10) || 1;
    const button = (text, label, delta) => {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = text;
      b.setAttribute("aria-label", label);
      b.setAttribute("aria-controls", input.id);
      b.addEventListener("click", () => {
        const max = parseInt(input.max, 10);
        const next = (parseInt(input.value, 10) || 0) + delta;
        input.value = String(Math.min(max, Math.max(0, next)));
        update();
      });
      return b;
    };
    input.before(button("−", input.dataset.less, -step));
    input.after(button("+", input.dataset.more, step));
    input.addEventListener("input", update);
  });
  keepAmountsAcrossLanguageSwitch(form.querySelectorAll(".product input"));
  update();
}

// Switching the language loads the page anew: the chosen amounts go along (in this tab only).
function keepAmountsAcrossLanguageSwitch(inputs) {
  const key = "amounts:" + window.location.pathname;
  try {
    const kept = JSON.parse(sessionStorage.getItem(key) || "{}");
    sessionStorage.removeItem(key);
    inputs.forEach((input) => { if (input.id in kept) input.value = kept[input.id]; });
  } catch (error) {
    return; // storage is off (a private window): the switch starts from nothing, as without scripts
  }
  const link = document.querySelector("a.lang");
  if (!link) return;
  link.addEventListener("click", () => {
    const chosen = {};
    inputs.forEach((input) => { if (input.value !== "0") chosen[input.id] = input.value; });
    sessionStorage.setItem(key, JSON.stringify(chosen));
  });
}

function followStatus(status) {
  const source = new EventSource(status.dataset.events);
  source.addEventListener("status", (event) => {
    const state = JSON.parse(event.data).state;
    const label = status.dataset["label" + state.charAt(0).toUpperCase() + state.slice(1)];
    if (label) status.textContent = label;
    status.className = "status state-" + state;
    if (state === "paid") {
      source.close();
      window.location.assign(status.dataset.receipt);
    } else if (["closed", "partially_refunded", "refunded"].includes(state)) {
      // Every state after payment ends the stream: reconnecting would only hear it again. The
      // order's own page, not this one again: it may answer a form or carry a spent WeChat code.
      source.close();
      window.location.assign(status.dataset.order);
    }
  });
}

// Inside WeChat: hand the JSAPI payment to WeChat's own sheet, at once and on each tap. The
// status stream says when it is paid; a cancelled sheet leaves the button to try again.
function payInWeChat(button) {
  const pay = () => {
    if (!window.WeixinJSBridge) return;
    window.WeixinJSBridge.invoke("getBrandWCPayRequest", JSON.parse(button.dataset.jsapi), () => {});
  };
  button.addEventListener("click", pay);
  if (window.WeixinJSBridge) pay();
  else document.addEventListener("WeixinJSBridgeReady", pay, { once: true });
}

document.addEventListener("DOMContentLoaded", () => {
  const cart = document.getElementById("cart");
  if (cart) enhanceCounter(cart);
  const status = document.getElementById("status");
  if (status && status.dataset.events && window.EventSource) followStatus(status);
  const wechatPay = document.getElementById("wechat-pay");
  if (wechatPay) payInWeChat(wechatPay);
});
