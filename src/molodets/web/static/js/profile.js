// Endless profile grid: when the "More videos" link comes near the screen, the next page is read
// from the API and added to the grid; the link then points at the page after it. Without this
// script (or if it fails) the link itself opens the next page, rendered by the server.
// Tiles built here match templates/_video_tiles.html.

import { endlessList } from "./endless.js";

const config = JSON.parse(document.getElementById("grid-config")?.textContent || "null");
const grid = document.querySelector("[data-grid]");
const more = document.querySelector("[data-grid-more]");
const status = document.querySelector("[data-grid-status]");
const iconsHref = document.querySelector("svg.icon use")?.getAttribute("href")?.split("#")[0];

const locale = document.documentElement.lang || "ru";
const plural = new Intl.PluralRules(locale);
const compact = new Intl.NumberFormat(locale, { notation: "compact", maximumFractionDigits: 1 });

function viewsLabel(count) {
  const forms = config.strings.views;
  const form = forms[plural.select(count >= 1000 ? 1000 : count)] || forms.other || Object.values(forms)[0];
  return form.replace("%(num)s", compact.format(count));
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function playIcon() {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "icon");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const use = document.createElementNS("http://www.w3.org/2000/svg", "use");
  use.setAttribute("href", `${iconsHref}#play`);
  svg.append(use);
  return svg;
}

function badgeOf(video) {
  const strings = config.strings;
  if (video.status === "processing") return element("span", "tile-badge", strings.processing);
  if (video.status === "failed") return element("span", "tile-badge tile-badge-failed", strings.failed);
  if (video.visibility === "private") return element("span", "tile-badge", strings.private);
  if (video.visibility === "followers") return element("span", "tile-badge", strings.followers);
  return null;
}

function tile(video) {
  const item = element("li", "tile");
  const link = element("a", "tile-link");
  link.href = `/@${encodeURIComponent(video.author.username)}/video/${video.id}${config.link_suffix}`;
  link.style.setProperty("--ph", /^#[0-9a-f]{6}$/i.test(video.placeholder || "") ? video.placeholder : "#1f1f1f");
  if (video.poster_url) {
    const picture = document.createElement("picture");
    if (video.poster_webp_url) {
      const source = document.createElement("source");
      source.type = "image/webp";
      source.srcset = video.poster_webp_url;
      picture.append(source);
    }
    const img = element("img", "tile-poster");
    Object.assign(img, { alt: "", loading: "lazy", decoding: "async", src: video.poster_url });
    img.width = video.width || 720;
    img.height = video.height || 1280;
    picture.append(img);
    link.append(picture);
  }
  const caption = video.caption.length > 120 ? `${video.caption.slice(0, 117)}...` : video.caption;
  link.append(element("span", "visually-hidden", caption || config.strings.video));
  const badge = badgeOf(video);
  if (badge) link.append(badge);
  const meta = element("span", "tile-meta");
  const views = element("span", "tile-views");
  const shown = element("span", "", compact.format(video.counts.views));
  shown.setAttribute("aria-hidden", "true");
  views.append(playIcon(), shown, element("span", "visually-hidden", viewsLabel(video.counts.views)));
  meta.append(views);
  link.append(meta);
  item.append(link);
  return item;
}

if (config) {
  endlessList({
    container: grid,
    more,
    api: config.api,
    limit: config.limit,
    render: tile,
    onError: () => {
      if (status) status.textContent = config.strings.error;
    },
  });
}
