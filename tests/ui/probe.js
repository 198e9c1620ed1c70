// Probe run inside the pipeline page by the browser tests (served as /assets/extra.js). It waits for
// the page to draw, clicks the failed node, then writes what it measured into <pre id="probe">,
// which `chromium --dump-dom` hands back to the test.
"use strict";
(function () {
  const started = Date.now();
  function overflowing() {
    const width = document.documentElement.clientWidth;
    const out = [];
    if (document.documentElement.scrollWidth > width) out.push(`page scrollWidth ${document.documentElement.scrollWidth} > ${width}`);
    for (const node of document.querySelectorAll("body *")) {
      if (node.closest("svg") || node.closest("#graph") || node.id === "probe") continue;
      const style = getComputedStyle(node);
      if (style.display === "none" || node.hidden) continue;
      const rect = node.getBoundingClientRect();
      if (rect.right > width + 1) out.push(`${node.tagName}#${node.id}.${node.className} right=${Math.round(rect.right)}`);
      const clips = style.overflowX !== "visible" || style.textOverflow === "ellipsis";
      if (!clips && node.scrollWidth > node.clientWidth + 1 && node.clientWidth > 0) {
        out.push(`${node.tagName}.${node.className} "${(node.textContent || "").slice(0, 40)}" scrollWidth ${node.scrollWidth} > ${node.clientWidth}`);
      }
      if (style.textOverflow === "ellipsis" && node.scrollWidth > node.clientWidth + 1 && node.tagName !== "TD") {
        out.push(`clipped ${node.tagName}.${node.className} "${(node.textContent || "").slice(0, 40)}"`);
      }
    }
    return out;
  }
  async function measure() {
    const failed = document.querySelector("#graph g.node[data-status=FAILED]");
    if (failed) {
      failed.dispatchEvent(new MouseEvent("click", { bubbles: true }));
      for (let i = 0; i < 50 && !document.querySelector("#node-error"); i++) await new Promise((r) => setTimeout(r, 100));
    }
    const result = {
      nodes: [...document.querySelectorAll("#graph g.node")].map((g) => ({ name: g.dataset.dataset, status: g.dataset.status })),
      selected: document.querySelector("#details-title").textContent,
      node_error: document.querySelector("#node-error")?.textContent || null,
      failed_hover: failed?.querySelector("title")?.textContent || null,
      updates: [...document.querySelectorAll("#updates tbody tr")].map((tr) => ({
        update_id: tr.dataset.update,
        cells: [...tr.cells].map((c) => c.textContent.trim()),
      })),
      events_rows: document.querySelectorAll("#events tbody tr").length,
      events_count: document.querySelector("#events-count").textContent,
      resources: [location.href, ...performance.getEntriesByType("resource").map((r) => r.name)],
      overflow: overflowing(),
      viewport: [window.innerWidth, window.innerHeight],
      body_text: document.body.innerText,
    };
    const pre = document.createElement("pre");
    pre.id = "probe";
    pre.hidden = true;
    pre.textContent = JSON.stringify(result);
    document.body.append(pre);
  }
  function wait() {
    if (document.body.dataset.ready === "true" && document.querySelector("#graph svg")) measure();
    else if (Date.now() - started < 20000) setTimeout(wait, 100);
    else { const pre = document.createElement("pre"); pre.id = "probe"; pre.textContent = JSON.stringify({ timeout: document.body.dataset.ready || null }); document.body.append(pre); }
  }
  wait();
})();
