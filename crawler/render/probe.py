"""The JavaScript the browser runs to measure the badge, and the overlay for the evidence."""

from __future__ import annotations

# Added to every document before its own scripts run (an init script: the page's CSP does not
# apply to it). Records what became of the page's loads, for the probe to read: the policy
# violations the page enforced, and the elements whose load ended, in error or not.
LOADS = r"""
(() => {
  if (window.__badgewatch) return;
  const rec = {violations: [], errored: new WeakSet(), settled: new WeakSet()};
  Object.defineProperty(window, '__badgewatch', {value: rec});
  document.addEventListener('securitypolicyviolation', (e) => {
    if (e.disposition === 'enforce' && rec.violations.length < 50) {
      rec.violations.push({blocked: e.blockedURI, directive: e.effectiveDirective,
                           policy: e.originalPolicy, sample: e.sample});
    }
  }, true);
  const settle = (failed) => (e) => {
    const t = e.target;
    if (t && t.nodeType === 1) { rec.settled.add(t); if (failed) rec.errored.add(t); }
  };
  window.addEventListener('load', settle(false), true);
  window.addEventListener('error', settle(true), true);
})();
"""

# Runs in the page after load. Finds the first element with the badge's id (what the real
# script fills), measures the link, image, box and visibility, where it is drawn at the end of
# the page and what is drawn below it there, asks whether something else covers its centre, and
# lists the badge scripts and the policy violations on the badge hosts.
MEASURE = r"""
({spanId, badgeHosts}) => {
  const doc = document.documentElement;
  const body = document.body || doc;
  const docWidth = Math.max(doc.clientWidth, window.innerWidth);
  // The content's height, not the window's: on a short page the footer is still the bottom.
  const docHeight = Math.max(
    body.scrollHeight, Math.ceil(body.getBoundingClientRect().bottom + window.scrollY), 1);
  const out = {found: false, docWidth, docHeight, viewHeight: window.innerHeight};
  loads(out);
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
  // The scrolls below happen in this one task, so the browser never draws (and rasterises)
  // the scrolled page: drawing it costs more CPU than the rest of the measurement. Instant:
  // a page's smooth scrolling would otherwise leave the window where it was.
  const sx = window.scrollX, sy = window.scrollY;
  const scroller = document.scrollingElement || doc;
  // Where a reader who scrolled down finds the badge: a fixed or sticky footer is there too.
  window.scrollTo({left: sx, top: scroller.scrollHeight, behavior: 'instant'});
  const endY = window.scrollY;
  const e = target.getBoundingClientRect();
  out.rect = {x: e.left + window.scrollX, y: e.top + endY, width: e.width, height: e.height};
  out.viewTop = e.top;
  out.fixed = endY !== sy && Math.abs(e.top - r.top) < 1;
  // What is drawn below matters only for a badge in the last screen (the rule's other half).
  out.after = out.rect.y >= docHeight - window.innerHeight ? following(el, e.bottom) : null;
  // Hit-testing needs the badge in the window.
  target.scrollIntoView({block: 'center', inline: 'center', behavior: 'instant'});
  r = target.getBoundingClientRect();
  const cx = Math.min(Math.max(r.left + r.width / 2, 0), window.innerWidth - 1);
  const cy = Math.min(Math.max(r.top + r.height / 2, 0), window.innerHeight - 1);
  const hit = document.elementFromPoint(cx, cy);
  window.scrollTo({left: sx, top: sy, behavior: 'instant'});
  if (hit && hit !== target && !target.contains(hit) && !el.contains(hit)) {
    out.hidden = 'covered by ' + hit.tagName.toLowerCase() + (hit.id ? '#' + hit.id : '');
  }
  return out;

  // What is drawn below the badge (window coordinates, ``limit`` its bottom), outside any
  // footer-like region: text, links, headings, media larger than an icon, form controls, and
  // how far down the lowest of it ends. Subtrees drawn wholly above are skipped unread, so a
  // badge at the end of a long page costs a few rectangles; the counts stop at caps far above
  // any footer (``capped``: not a footer). A page of more than 20,000 elements around the
  // badge is read that far (``truncated``) and judged on what was found.
  function following(span, limit) {
    const acc = {text: 0, links: 0, headings: 0, media: 0, controls: 0, extent: 0,
                 capped: false, truncated: false};
    const FOOTER = /foot|bottom|copyright|banquan|dibu|yejiao/i;
    const SKIP = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'HEAD', 'TITLE', 'META',
                          'LINK']);
    const MEDIA = new Set(['IMG', 'SVG', 'CANVAS', 'VIDEO', 'IFRAME', 'OBJECT', 'EMBED']);
    const CONTROLS = new Set(['INPUT', 'SELECT', 'TEXTAREA', 'BUTTON']);
    const range = document.createRange();
    let visits = 0, counted = 0, lowest = limit;
    const footerLike = (n) => n.tagName === 'FOOTER' || n.getAttribute('role') === 'contentinfo'
      || FOOTER.test(n.id) || FOOTER.test(n.getAttribute('class') || '');
    const walk = (parent, inFooter) => {
      for (let n = parent.firstChild; n && !acc.capped && !acc.truncated; n = n.nextSibling) {
        if (n.nodeType === 3) {
          const length = inFooter ? 0 : n.data.trim().length;
          if (!length) continue;
          range.selectNodeContents(n);
          const t = range.getBoundingClientRect();
          if (t.height > 0 && t.top >= limit - 1) {
            acc.text += length; lowest = Math.max(lowest, t.bottom);
          }
          continue;
        }
        if (n.nodeType !== 1 || n === span || SKIP.has(n.tagName.toUpperCase())) continue;
        if (acc.text > 5000 || counted > 1000) { acc.capped = true; return; }
        if (++visits > 20000) { acc.truncated = true; return; }
        const b = n.getBoundingClientRect();
        const holds = n.contains(span);
        const footer = inFooter || footerLike(n);
        if (!holds && b.width === 0 && b.height === 0) {
          // No box: nothing drawn, unless it is display:contents and its children are.
          if (n.firstChild && getComputedStyle(n).display === 'contents') walk(n, footer);
          continue;
        }
        if (!holds && b.bottom <= limit + 1 && n.scrollHeight <= n.clientHeight + 1) continue;
        if (!holds && b.top >= limit - 1) {
          if (!n.checkVisibility({opacityProperty: true, visibilityProperty: true})) continue;
          if (!footer) {
            const tag = n.tagName.toUpperCase();
            counted++;
            lowest = Math.max(lowest, b.bottom);
            if (tag === 'A' && n.hasAttribute('href')) acc.links++;
            else if (/^H[1-6]$/.test(tag)) acc.headings++;
            else if (MEDIA.has(tag) && b.width > 150 && b.height > 150) acc.media++;
            else if (CONTROLS.has(tag)) acc.controls++;
          }
        }
        walk(n, footer);
      }
    };
    walk(body, false);
    acc.extent = Math.max(0, lowest - limit);
    return acc;
  }

  // The badge scripts in the document, as the page wrote them, and the policy violations on
  // the badge hosts, inline scripts, or a Trusted Types sink given the badge's code (its
  // sample names the span), with whether the policy came from a <meta>, from LOADS' record.
  function loads(result) {
    const rec = window.__badgewatch;
    const onHost = (url) => {
      try { return badgeHosts.includes(new URL(url, location.href).hostname.toLowerCase()); }
      catch (err) { return false; }
    };
    result.scripts = [];
    for (const s of document.scripts) {
      if (result.scripts.length >= 10) break;
      if (!s.getAttribute('src') || !onHost(s.src)) continue;
      result.scripts.push({
        src: s.src,
        module: (s.getAttribute('type') || '').trim().toLowerCase() === 'module',
        nomodule: s.hasAttribute('nomodule'),
        integrity: s.hasAttribute('integrity'),
        crossorigin: s.hasAttribute('crossorigin'),
        errored: !!rec && rec.errored.has(s),
      });
    }
    const norm = (policy) => (policy || '').replace(/\s+/g, ' ').trim();
    const metas = Array.from(document.querySelectorAll('meta[http-equiv]'))
      .filter((m) => m.httpEquiv.trim().toLowerCase() === 'content-security-policy')
      .map((m) => norm(m.content));
    result.violations = (rec ? rec.violations : [])
      .filter((v) => v.blocked === 'inline' || onHost(v.blocked) ||
        (v.blocked === 'trusted-types-sink' && (v.sample || '').includes(spanId)))
      .slice(0, 10)
      .map((v) => ({blocked: v.blocked, directive: v.directive,
                    inMeta: metas.includes(norm(v.policy))}));
  }
}
"""

# Asked when a page ran out of time: the badge-host scripts and images still loading.
PENDING = r"""
(badgeHosts) => {
  const rec = window.__badgewatch;
  const onHost = (url) => {
    try { return badgeHosts.includes(new URL(url, location.href).hostname.toLowerCase()); }
    catch (err) { return false; }
  };
  const runs = (s) => {
    const type = (s.getAttribute('type') || '').trim().toLowerCase();
    return !s.hasAttribute('nomodule') &&
      (!type || type === 'module' || /(java|ecma|j|live)script/.test(type));
  };
  const waiting = [];
  for (const s of document.scripts) {
    if (s.getAttribute('src') && onHost(s.src) && runs(s) && !(rec && rec.settled.has(s))) {
      waiting.push(s.src);
    }
  }
  for (const i of document.images) {
    if (i.getAttribute('src') && onHost(i.src) && !i.complete) waiting.push(i.currentSrc || i.src);
  }
  return waiting.slice(0, 10);
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
  window.scrollTo({left: 0, top: Math.max(0, r.y + r.height / 2 - window.innerHeight * 0.6),
                   behavior: 'instant'});
  return {x: r.x, y: r.y, width: r.width, height: r.height, docHeight};
}
"""
