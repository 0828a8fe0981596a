// Embeds Parley's chat widget on any page with one tag:
//   <script src="https://chat.example.com/embed.js" async></script>
// It adds a button that opens the widget in a frame served by Parley, so
// the page's styles and scripts and the chat's stay apart.
(() => {
  const origin = new URL(document.currentScript.src).origin;
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = "Chat with us";
  button.setAttribute("aria-expanded", "false");
  button.style.cssText = "position:fixed;right:20px;bottom:20px;z-index:2147483000;padding:12px 18px;border:0;" +
    "border-radius:24px;background:#1f5fbf;color:#fff;font:600 15px system-ui,sans-serif;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25)";
  const frame = document.createElement("iframe");
  frame.title = "Chat";
  frame.src = origin + "/";
  frame.hidden = true;
  frame.style.cssText = "position:fixed;right:20px;bottom:76px;z-index:2147483000;width:min(380px,calc(100vw - 40px));" +
    "height:min(600px,calc(100vh - 100px));border:1px solid #ccd;border-radius:12px;background:#fff;box-shadow:0 8px 30px rgba(0,0,0,.25)";
  button.addEventListener("click", () => {
    frame.hidden = !frame.hidden;
    button.setAttribute("aria-expanded", String(!frame.hidden));
    button.textContent = frame.hidden ? "Chat with us" : "Close chat";
  });
  document.body.append(frame, button);
})();
