// The staff tablet: after a scan the page reloads with the scan field focused (autofocus);
// this keeps a barcode scanner's Enter from submitting a form twice, and fills a refund's amount.
"use strict";

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.dataset.sent === "yes") event.preventDefault();
  else form.dataset.sent = "yes";
});

window.addEventListener("pageshow", () => {
  document.querySelectorAll("form").forEach((form) => { delete form.dataset.sent; });
});

// The refund form: the amount follows the goods it pays for. Their value is what the server
// gives their lines (pos/orders/refund_shares.py): u more units of a line with b returned
// already are worth floor(total*(b+u)/units) - floor(total*b/units), at most its fen left,
// taken from the product's lines in order. No goods named: everything refundable.
const floorDiv = (a, b) => (a - (a % b)) / b; // exact for whole numbers below 2**53

function goodsValue(lines, wanted) {
  let value = 0;
  let left = wanted;
  for (const [total, units, before, fenLeft] of lines) {
    const take = Math.min(left, units - before);
    if (take <= 0) break;
    const worth = floorDiv(total * (before + take), units) - floorDiv(total * before, units);
    value += Math.min(worth, fenLeft);
    left -= take;
  }
  return value;
}

const yuan = (fen) => `${floorDiv(fen, 100)}.${String(fen % 100).padStart(2, "0")}`;

document.addEventListener("input", (event) => {
  const paid = event.target;
  if (!paid.matches("input[data-lines]")) return;
  const form = paid.form;
  const units = (input) => Math.max(Math.floor(Number(input.value)) || 0, 0);
  // Only goods the refund pays for may go back on the shelf.
  const back = form.elements[paid.dataset.back];
  back.max = String(Math.min(Number(back.dataset.max), units(paid)));
  let fen = 0;
  form.querySelectorAll("input[data-lines]").forEach((input) => {
    fen += goodsValue(JSON.parse(input.dataset.lines), units(input));
  });
  const amount = form.elements.amount;
  const refundable = Number(amount.dataset.refundable);
  amount.value = yuan(fen > 0 ? Math.min(fen, refundable) : refundable);
});
