// Embeds Parley's chat widget on any page with one tag:
//   <script src="https://chat.example.com/embed.js" async
//     data-title="Help" data-color="#0a7d44" data-position="left"></script>
// It adds a button that opens the widget in a frame served by Parley, so
// the page's styles and scripts and the chat's stay apart. data-title,
// data-color, data-logo, data-welcome and data-position override the
// server's branding. On a phone the frame fills the screen; Escape or the
// widget's minimise button closes it; the button counts unread messages.
(() => {
  const script = document.currentScript;
  const origin = new URL(script.src).origin;
  const params = new URLSearchParams();
  for (const k of ["title", "color", "logo", "welcome", "position"]) if (script.dataset[k]) params.set(k, script.dataset[k]);
  const side = script.dataset.position === "left" ? "left" : "right";
  const label = "Chat with us";
  const button = document.createElement("button");
  button.type = "button";
  button.setAttribute("aria-expanded", "false");
  const text = document.createElement("span");
  text.textContent = label;
  const badge = document.createElement("span");
  badge.hidden = true;
  badge.style.cssText = "margin-left:8px;min-width:20px;padding:0 6px;border-radius:10px;background:#fff;color:#b3261e;font-weight:700";
  button.append(text, " ", badge);
  const color = /^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/.test(script.dataset.color || "") ? script.dataset.color : "#1f5fbf";
  button.style.cssText = `position:fixed;${side}:20px;bottom:20px;z-index:2147483000;padding:12px 18px;border:0;` +
    `border-radius:24px;background:${color};color:#fff;font:600 15px system-ui,sans-serif;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25)`;
  const frame = document.createElement("iframe");
  frame.title = "Chat";
  frame.src = origin + "/" + (params.size ? "?" + params : "");
  frame.hidden = true;
  const phone = window.matchMedia("(max-width: 640px)");
  const place = () => {
    frame.style.cssText = phone.matches
      ? "position:fixed;inset:0;z-index:2147483001;width:100vw;height:100dvh;border:0;background:#fff"
      : `position:fixed;${side}:20px;bottom:76px;z-index:2147483000;width:min(380px,calc(100vw - 40px));` +
        "height:min(600px,calc(100vh - 100px));border:1px solid #ccd;border-radius:12px;background:#fff;box-shadow:0 8px 30px rgba(0,0,0,.25)";
  };
  place();
  phone.addEventListener("change", place);
  const show = (open) => {
    frame.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
    text.textContent = open ? "Close chat" : label;
    frame.contentWindow?.postMessage({ parley: "shown", open }, origin);
    setUnread(open ? 0 : count);
    if (open) frame.focus(); else button.focus();
  };
  let count = 0;
  const setUnread = (n) => {
    count = n;
    badge.hidden = !n;
    badge.textContent = `${n} unread`; // visible, so the button's name is what it shows
  };
  button.addEventListener("click", () => show(frame.hidden));
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !frame.hidden) show(false); });
  window.addEventListener("message", (e) => {
    if (e.origin !== origin || e.source !== frame.contentWindow) return;
    if (e.data?.parley === "hello") frame.contentWindow.postMessage({ parley: "shown", open: !frame.hidden }, origin);
    else if (e.data?.parley === "close") show(false);
    else if (e.data?.parley === "unread" && frame.hidden) setUnread(Number(e.data.count) || 0);
  });
  document.body.append(frame, button);
})();
