// Categories (#/categories): the class tree with file counts; create, rename, delete.
import { classOptions, confirmAction, field, fill, flattenClasses, h } from "./ui.js";

function counts(node) {
  const own = `${node.file_count} file${node.file_count === 1 ? "" : "s"}`;
  return node.total_file_count !== node.file_count
    ? `${own}, ${node.total_file_count} with subcategories` : own;
}

export async function render(root, _route, ctx) {
  const tree = await ctx.api("GET", "/v1/vod/classes");
  const flat = flattenClasses(tree.class_set);

  async function act(button, request, message) {
    button.disabled = true;
    ctx.clearError();
    try {
      await request();
      ctx.go("#/categories", message);
    } catch (error) {
      ctx.showError(error);
      button.disabled = false;
    }
  }

  function renameForm(node, item, row) {
    const input = h("input", { id: `rename-${node.class_id}`, value: node.name, required: true,
                               maxlength: 64 });
    const cancel = h("button", { type: "button" }, "Cancel");
    const form = h("form", { class: "inline-form" },
      h("label", { for: input.id, class: "visually-hidden" }, `New name for ${node.name}`),
      input, h("button", { type: "submit" }, "Save"), cancel);
    const close = () => {
      form.replaceWith(row);
      row.querySelector(".rename").focus();
    };
    cancel.addEventListener("click", close);
    form.addEventListener("keydown", (event) => {
      if (event.key === "Escape") close();
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      act(event.submitter, () => ctx.api("PATCH", `/v1/vod/classes/${node.class_id}`, {
        json: { name: input.value.trim() } }), `Renamed \u201c${node.name}\u201d to `
        + `\u201c${input.value.trim()}\u201d.`);
    });
    row.replaceWith(form);
    input.select();
    input.focus();
  }

  async function remove(node, button) {
    const move = h("div", { class: "check" },
      h("input", { type: "checkbox", id: "move-files", name: "move_files" }),
      h("label", { for: "move-files" }, "Move its files and subcategories to its parent"));
    const sure = await confirmAction({ title: `Delete the category \u201c${node.name}\u201d?`,
      text: node.total_file_count || node.children.length
        ? `It holds ${counts(node)} and ${node.children.length} subcategories: without moving `
          + "them the server refuses (code 1002)." : "It is empty.",
      action: "Delete category", extra: node.total_file_count || node.children.length
        ? move : null });
    if (!sure) return;
    await act(button, () => ctx.api("DELETE", `/v1/vod/classes/${node.class_id}`, {
      params: { move_files: sure.get("move_files") ? "true" : undefined } }),
      `Deleted the category \u201c${node.name}\u201d.`);
  }

  function item(node) {
    const rename = h("button", { type: "button", class: "rename",
                                 "aria-label": `Rename ${node.name}` }, "Rename");
    const del = h("button", { type: "button", class: "danger",
                              "aria-label": `Delete ${node.name}` }, "Delete");
    const row = h("div", { class: "tree-row" },
      h("a", { href: `#/library?class_id=${node.class_id}`, class: "class-name",
               "aria-label": `${node.name}: show its files` }, node.name),
      h("span", { class: "count" }, counts(node)), rename, del);
    const li = h("li", { dataset: { classId: node.class_id } }, row,
      node.children.length ? h("ul", {}, node.children.map(item)) : null);
    rename.addEventListener("click", () => renameForm(node, li, row));
    del.addEventListener("click", () => remove(node, del));
    return li;
  }

  const name = h("input", { id: "new-class-name", name: "name", required: true, maxlength: 64 });
  const parent = h("select", { id: "new-class-parent", name: "parent_id" },
    classOptions(flat, "0", [["0", "None (top level)"]]));
  const create = h("form", { id: "new-class", class: "inline-fields" },
    field("Name", name), field("Inside", parent),
    h("button", { type: "submit", id: "create-class" }, "Create category"));
  create.addEventListener("submit", (event) => {
    event.preventDefault();
    act(event.submitter, () => ctx.api("POST", "/v1/vod/classes", { json: {
      name: name.value.trim(), parent_id: Number(parent.value) } }),
      `Created the category \u201c${name.value.trim()}\u201d.`);
  });

  const list = h("ul", { id: "class-tree", class: "tree", "aria-label": "Category tree" });
  fill(list, tree.class_set.map(item));
  root.append(
    h("h1", {}, "Categories"),
    h("p", { class: "lead" }, "Files are placed in a category when recording starts "
      + "(class_id) or from their page in the library. Sibling names are unique."),
    h("section", { "aria-labelledby": "new-class-title" },
      h("h2", { id: "new-class-title" }, "New category"), create),
    h("section", { "aria-labelledby": "tree-title" },
      h("h2", { id: "tree-title" }, "All categories"),
      tree.class_set.length ? list : h("p", { id: "tree-empty" }, "No categories yet."),
      h("p", { id: "uncategorized" }, h("a", { href: "#/library?class_id=0" }, "Uncategorized"),
        `: ${tree.uncategorized_file_count} file`
        + `${tree.uncategorized_file_count === 1 ? "" : "s"}`)));
}
