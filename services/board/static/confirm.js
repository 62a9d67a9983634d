// A question asked in the page (never window.confirm): resolves true when the person says yes.
export function confirmInPage({ text, yes, no }) {
  const dialog = document.getElementById("confirm-dialog");
  dialog.querySelector("#confirm-text").textContent = text;
  dialog.querySelector("#confirm-yes").textContent = yes;
  dialog.querySelector("#confirm-no").textContent = no;
  dialog.returnValue = "";
  dialog.showModal();
  dialog.querySelector("#confirm-no").focus(); // the safe answer is the default one
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
  });
}
