// After the chat: the customer rates it (1 to 5 and a comment, stored as
// the contact's attributes) and may start a new chat.
import { el, plainError } from "./chatview.js";

export function afterChat(root, token, onNewChat) {
  if (root.querySelector(".aftercare")) return;
  const stars = el("div", { class: "stars" });
  for (let n = 1; n <= 5; n++) {
    const id = `rating-${n}`;
    stars.append(el("input", { type: "radio", name: "rating", id, value: String(n), required: "" }),
      el("label", { for: id, title: `${n} of 5` }, String(n)));
  }
  const comment = el("textarea", { id: "rating-comment", rows: "2", maxlength: "1000" });
  const status = el("p", { class: "rating-status", role: "status" });
  const form = el("form", { class: "rating", "aria-label": "Rate this chat" },
    el("fieldset", {}, el("legend", {}, "How did we do? (1 is poor, 5 is great)"), stars),
    el("label", { for: "rating-comment" }, "Anything to add? (optional)"), comment,
    el("button", { type: "submit" }, "Send rating"), status);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const rating = Number(new FormData(form).get("rating"));
    try {
      const resp = await fetch("/widget/v1/rating", {
        method: "POST", headers: { "Content-Type": "application/json", "X-Amz-Bearer": token() || "" },
        body: JSON.stringify({ Rating: rating, Comment: comment.value }),
      });
      if (!resp.ok) throw Object.assign(new Error(), { status: resp.status });
      form.replaceChildren(el("p", { class: "thanks" }, "Thank you for your rating."));
    } catch (err) {
      status.textContent = `Your rating was not sent. ${plainError(err)}`;
    }
  });
  const again = el("button", { type: "button", class: "new-chat", onclick: onNewChat }, "Start a new chat");
  root.append(el("section", { class: "aftercare", "aria-label": "After the chat" }, token() ? form : null, again));
}
