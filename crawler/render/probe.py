"""The JavaScript the browser runs to measure the badge, and the overlay for the evidence."""

from __future__ import annotations

# Runs in the page after load. Finds the first element with the badge's id (what the real
# script fills), measures the link, image, box and visibility, then scrolls it into view to
# ask whether something else covers its centre.
MEASURE = r"""
({spanId}) => {
  const doc = document.documentElement;
  const body = document.body || doc;
  const docWidth = Math.max(doc.clientWidth, window.innerWidth);
  // The content's height, not the window's: on a short page the footer is still the bottom.
  const docHeight = Math.max(
    body.scrollHeight, Math.ceil(body.getBoundingClientRect().bottom + window.scrollY), 1);
  const out = {found: false, docWidth, docHeight};
  const el = document.getElementById(spanId);
  if (!el) return out;
  out.found = true;
  const link = el.querySelector('a[href]');
  const img = el.querySelector('img');
  out.filled = !!(link || img);
  out.href = link ? link.href : null;
  out.img = img ? {src: img.currentSrc || img.src, naturalWidth: img.naturalWidth} : null;
  const target = img || link || el;
  let r = target.getBoundingClientRect();
  out.rect = {x: r.left + window.scrollX, y: r.top + window.scrollY,
              width: r.width, height: r.height};
  for (let node = target; node && node.nodeType === 1; node = node.parentElement) {
    const cs = getComputedStyle(node);
    if (cs.display === 'none') { out.hidden = 'display:none'; return out; }
    if (cs.visibility === 'hidden' || cs.visibility === 'collapse') {
      out.hidden = 'visibility:hidden'; return out;
    }
    if (parseFloat(cs.opacity) === 0) { out.hidden = 'opacity:0'; return out; }
  }
  if (r.width <= 0 || r.height <= 0) { out.hidden = 'zero size'; return out; }
  const right = out.rect.x + r.width, bottom = out.rect.y + r.height;
  if (right <= 0 || bottom <= 0 || out.rect.x >= docWidth || out.rect.y >= docHeight) {
    out.hidden = 'off-screen'; return out;
  }
  for (let node = target.parentElement; node && node !== doc; node = node.parentElement) {
    const cs = getComputedStyle(node);
    if (cs.overflow !== 'visible' || cs.clip !== 'auto' || cs.clipPath !== 'none') {
      const a = node.getBoundingClientRect();
      const w = Math.min(r.right, a.right) - Math.max(r.left, a.left);
      const h = Math.min(r.bottom, a.bottom) - Math.max(r.top, a.top);
      if (w <= 0 || h <= 0 || (w * h) < 0.5 * r.width * r.height ||
          cs.clipPath.startsWith('inset(100') || cs.clip.startsWith('rect(0px, 0px')) {
        out.hidden = 'clipped'; return out;
      }
    }
  }
  // Hit-testing needs the badge in the window. Scroll there and back in this one task, so
  // the browser never draws (and rasterises) the scrolled page: drawing it costs more CPU
  // than the rest of the measurement.
  const sx = window.scrollX, sy = window.scrollY;
  target.scrollIntoView({block: 'center', inline: 'center'});
  r = target.getBoundingClientRect();
  const cx = Math.min(Math.max(r.left + r.width / 2, 0), window.innerWidth - 1);
  const cy = Math.min(Math.max(r.top + r.height / 2, 0), window.innerHeight - 1);
  const hit = document.elementFromPoint(cx, cy);
  window.scrollTo(sx, sy);
  if (hit && hit !== target && !target.contains(hit) && !el.contains(hit)) {
    out.hidden = 'covered by ' + hit.tagName.toLowerCase() + (hit.id ? '#' + hit.id : '');
  }
  return out;
}
"""

# Draws a magenta box where the badge is (or a dashed one where it should be: bottom centre).
OUTLINE = r"""
({rect, found}) => {
  const box = document.createElement('div');
  const doc = document.documentElement;
  const docHeight = Math.max(doc.scrollHeight, document.body ? document.body.scrollHeight : 0);
  // A badge with no box (display:none, zero size) is shown where it should be: bottom centre.
  const boxed = rect && rect.width > 0 && rect.height > 0;
  const r = boxed ? rect : {x: doc.clientWidth / 2 - 60, y: docHeight - 90, width: 120, height: 70};
  box.style.cssText = 'position:absolute;z-index:2147483647;pointer-events:none;' +
    'box-sizing:border-box;border:4px ' + (found && boxed ? 'solid' : 'dashed') + ' #f0f;' +
    'outline:2px solid #fff;' +
    'left:' + (r.x - 6) + 'px;top:' + (r.y - 6) + 'px;' +
    'width:' + (r.width + 12) + 'px;height:' + (r.height + 12) + 'px;';
  document.body.appendChild(box);
  // Bring the box into the window, a little below the middle so the footer around it shows.
  window.scrollTo(0, Math.max(0, r.y + r.height / 2 - window.innerHeight * 0.6));
  return {x: r.x, y: r.y, width: r.width, height: r.height, docHeight};
}
"""
