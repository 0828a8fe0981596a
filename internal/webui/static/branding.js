// The widget's look: the operator's branding (GET /widget/v1/config),
// which the embed tag's data- attributes override (passed in the frame's
// URL). Only a colour and a logo URL of the expected form are taken.
const COLOR = /^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/;
const validLogo = (l) => /^https:\/\/[^/]/.test(l) || (l.startsWith("/") && !l.startsWith("//"));

export async function applyBranding() {
  let b = {};
  try { b = await (await fetch("/widget/v1/config")).json(); } catch { /* the defaults in the page */ }
  const q = new URLSearchParams(location.search);
  for (const k of ["title", "color", "logo", "welcome", "position"]) {
    const v = q.get(k);
    if (v) b[k[0].toUpperCase() + k.slice(1)] = v;
  }
  if (b.Title) {
    document.getElementById("title").textContent = b.Title.slice(0, 60);
    document.title = b.Title.slice(0, 60);
  }
  if (b.Welcome) document.getElementById("welcome").textContent = b.Welcome.slice(0, 500);
  if (b.Color && COLOR.test(b.Color)) {
    document.documentElement.style.setProperty("--accent", b.Color);
    document.documentElement.style.setProperty("--on-accent", onColor(b.Color));
  }
  if (b.Logo && validLogo(b.Logo)) {
    const img = document.getElementById("logo");
    img.src = b.Logo;
    img.hidden = false;
  }
  return b;
}

// onColor is black or white, whichever reads better on c.
function onColor(c) {
  const hex = c.length === 4 ? [...c.slice(1)].map((x) => x + x).join("") : c.slice(1);
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
    .map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
  const lum = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  return (lum + 0.05) / 0.05 > 1.05 / (lum + 0.05) ? "#000" : "#fff";
}
