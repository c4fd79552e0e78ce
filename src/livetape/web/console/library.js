// The library: search and filter (GET /v1/vod/files), a paged table with covers. The
// filters live in the URL (#/library?name_prefix=...&page=2) so Back and reload keep them.
import {
  bytes, classOptions, duration, field, flattenClasses, h, splitList, statusText, when,
} from "./ui.js";

const SORTS = {
  newest: ["create_time", "desc", "Newest first"], oldest: ["create_time", "asc", "Oldest first"],
  largest: ["size", "desc", "Largest first"], smallest: ["size", "asc", "Smallest first"],
};
const PAGE_SIZES = [10, 20, 50, 100];

/** A local calendar day (YYYY-MM-DD) as the ISO instant its midnight is, plus `days`. */
function localMidnight(day, days = 0) {
  const date = new Date(`${day}T00:00:00`);
  if (Number.isNaN(date.getTime())) return undefined;
  date.setDate(date.getDate() + days);
  return date.toISOString();
}

function query(params) {
  const [orderBy, order] = SORTS[params.get("sort")] || SORTS.newest;
  return {
    name_prefix: params.get("name_prefix") || undefined,
    from: params.get("from") ? localMidnight(params.get("from")) : undefined,
    to: params.get("to") ? localMidnight(params.get("to"), 1) : undefined,  // to is inclusive
    class_id: params.get("class_id") || undefined,
    tags: splitList(params.get("tags")).join(",") || undefined,
    status: params.get("status") || undefined,
    order_by: orderBy, order,
    page_no: Math.max(1, Number(params.get("page")) || 1),
    page_size: PAGE_SIZES.includes(Number(params.get("size"))) ? Number(params.get("size")) : 20,
  };
}

function searchForm(params, flat, ctx) {
  const input = (id, name, props = {}) => h("input", { id, name, value: params.get(name) || "",
                                                       ...props });
  const select = (id, name, options, fallback = "") => {
    const element = h("select", { id, name }, options);
    element.value = params.get(name) || fallback;
    return element;
  };
  const form = h("form", { id: "library-search", role: "search", class: "filters",
                           "aria-label": "Search the library" },
    field("Name starts with", input("f-name", "name_prefix", { type: "search",
                                                               spellcheck: "false" })),
    field("Created from", input("f-from", "from", { type: "date" })),
    field("Created to (inclusive)", input("f-to", "to", { type: "date" })),
    field("Category", h("select", { id: "f-class", name: "class_id" }, classOptions(
      flat, params.get("class_id") || "", [["", "Any"], ["0", "Uncategorized"]]))),
    field("Tags", input("f-tags", "tags", { spellcheck: "false" }),
          "Comma-separated; files with all of them"),
    field("Status", select("f-status", "status", [["", "Any"], ["2", "Normal"],
      ["4", "Processing"], ["7", "Processing failed"], ["-1", "Not yet stored"]]
      .map(([value, label]) => h("option", { value }, label)))),
    field("Sort", select("f-sort", "sort", Object.entries(SORTS)
      .map(([value, [, , label]]) => h("option", { value }, label)), "newest")),
    h("div", { class: "buttons" },
      h("button", { type: "submit", id: "search-button" }, "Search"),
      h("button", { type: "reset", id: "clear-button" }, "Clear")));
  const go = (values) => {
    const next = new URLSearchParams();
    for (const [name, value] of values) if (String(value).trim()) next.set(name, value.trim());
    if (params.get("size")) next.set("size", params.get("size"));
    ctx.go(`#/library${next.size ? `?${next}` : ""}`);
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    go(new FormData(form));
  });
  form.addEventListener("reset", (event) => {
    event.preventDefault();
    go([]);
  });
  return form;
}

function cover(file) {
  if (!file.image_url) return h("span", { class: "no-cover" }, "no cover");
  return h("img", { src: file.image_url, alt: `Cover of ${file.file_name}`, class: "cover",
                    loading: "lazy", width: 128, height: 72 });
}

function row(file, names) {
  const category = file.class_id ? names.get(file.class_id) || `#${file.class_id}`
    : "Uncategorized";
  return h("tr", { dataset: { fileId: file.file_id } },
    h("td", {}, cover(file)),
    h("td", {}, h("a", { href: `#/files/${encodeURIComponent(file.file_id)}`,
                         class: "file-link" }, file.file_name),
      h("br"), h("small", {}, `${file.user_id} \u00b7 ${file.src_type} \u00b7 `
        + `room ${file.room_id}`)),
    h("td", {}, when(file.create_time)),
    h("td", { class: "num" }, duration(file.duration)),
    h("td", { class: "num" }, bytes(file.size), file.storage_size > file.size
      ? h("small", { class: "block" }, `${bytes(file.storage_size)} with renditions`) : null),
    h("td", {}, h("span", { class: `badge status-${file.status}` }, statusText(file)),
      file.status_reason ? h("small", { class: "reason" }, ` ${file.status_reason}`) : null),
    h("td", {}, category),
    h("td", {}, (file.tags || []).map((tag) => h("span", { class: "tag" }, tag))));
}

function pager(params, page, pages, size, ctx) {
  const link = (to) => {
    const next = new URLSearchParams(params);
    next.set("page", String(to));
    return `#/library?${next}`;
  };
  const sizes = h("select", { id: "page-size" }, PAGE_SIZES.map((n) => h("option", {
    value: n }, `${n} per page`)));
  sizes.value = String(size);
  sizes.addEventListener("change", () => {
    const next = new URLSearchParams(params);
    next.set("size", sizes.value);
    next.delete("page");
    ctx.go(`#/library?${next}`);
  });
  return h("nav", { class: "pager", "aria-label": "Pages" },
    page > 1 ? h("a", { href: link(page - 1), rel: "prev", id: "prev-page" }, "\u2190 Previous")
      : null,
    h("span", { id: "page-info" }, `Page ${page} of ${pages}`),
    page < pages ? h("a", { href: link(page + 1), rel: "next", id: "next-page" }, "Next \u2192")
      : null,
    h("label", { for: "page-size", class: "visually-hidden" }, "Files per page"), sizes);
}

export async function render(root, { params }, ctx) {
  const wanted = query(params);
  const [classes, found] = await Promise.all([
    ctx.api("GET", "/v1/vod/classes"), ctx.api("GET", "/v1/vod/files", { params: wanted })]);
  const flat = flattenClasses(classes.class_set);
  const names = new Map(flat.map((node) => [node.class_id, node.path]));
  const pages = Math.max(1, Math.ceil(found.total_count / wanted.page_size));
  const filtered = [...params.keys()].some((name) => !["page", "size", "sort"].includes(name));
  const count = `${found.total_count} file${found.total_count === 1 ? "" : "s"}`
    + (filtered ? " match" : "");
  root.append(
    h("h1", {}, "Library"),
    searchForm(params, flat, ctx),
    h("p", { id: "library-count", class: "count" }, count));
  if (found.file_set.length) {
    root.append(h("table", { id: "library-table", class: "grid" },
      h("caption", { class: "visually-hidden" }, "Library files"),
      h("thead", {}, h("tr", {}, ["Cover", "Name", "Created", "Duration", "Size", "Status",
                                  "Category", "Tags"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, found.file_set.map((file) => row(file, names)))));
    root.append(pager(params, wanted.page_no, pages, wanted.page_size, ctx));
  } else if (found.total_count) {  // a page past the end (files were deleted meanwhile)
    const first = new URLSearchParams(params);
    first.delete("page");
    root.append(h("p", { id: "library-empty" }, "No files on this page. ",
      h("a", { href: `#/library?${first}` }, "Go to the first page")));
  } else {
    root.append(h("p", { id: "library-empty" }, filtered
      ? "No file matches these filters." : "The library is empty: record something first."));
  }
  if (filtered) ctx.announce(`${count}.`);
}
