// Progressive enhancement of the shopper's pages: +/- steppers, a running total and the chosen
// amounts kept across pages on the counter page; the order's live status (server-sent events)
// and WeChat's payment sheet on the order page.
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
    carryAmounts(form);
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
  update();
}

const AMOUNT_FIELD = /^[qg]\d+$/;

// Paging, searching and switching the language load the page anew: the chosen amounts go along
// in its address (`q<id>` pieces, `g<id>` grams, as the cart form names them), and the server
// shows those chosen on other pages above this page's products, so the cart orders them all.
function carryAmounts(form) {
  const chosen = [];
  form.querySelectorAll(".product input").forEach((input) => {
    const amount = parseInt(input.value, 10) || 0;
    if (amount > 0) chosen.push([input.name, String(amount)]);
  });
  document.querySelectorAll("a.lang, a.more").forEach((link) => {
    const url = new URL(link.href);
    [...url.searchParams.keys()].filter((name) => AMOUNT_FIELD.test(name))
      .forEach((name) => url.searchParams.delete(name));
    chosen.forEach(([name, value]) => url.searchParams.append(name, value));
    link.href = url.href;
  });
  const search = document.querySelector("form.search");
  if (!search) return;
  search.querySelectorAll("input.carried").forEach((input) => input.remove());
  chosen.forEach(([name, value]) => {
    const input = document.createElement("input");
    Object.assign(input, { type: "hidden", className: "carried", name, value });
    search.append(input);
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
