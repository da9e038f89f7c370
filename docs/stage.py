"""Copy the notebooks of `nbs/` into a Sphinx source folder, turning nbdev directives into myst-nb tags.

Run by `tools/build_docs.sh`
the notebooks in `nbs/` are never changed. nbdev's `  #|` directives mean
nothing to myst-nb, so each code cell's directives become cell tags that myst-nb understands:
`hide`, `export`, `exporti` and a bare `default_exp` cell are executed but not shown (as nbdev's own
docs do: the API reference is the `show_doc` output), and so is the source of cells that only call
`show_doc`
`echo: false` hides the source, `output: false`
the output, and `eval: false` skips the cell. The directive lines are dropped from the cells that stay.
The home page `index.ipynb` gets two hidden tables of contents built from the files present, so every
module and lesson is in the sidebar without editing anything
its own text links the main ones.
"""
from __future__ import annotations
import re, shutil, sys
from pathlib import Path
import nbformat

DIRECTIVE = re.compile(r"^\s*#\|\s*([\w-]+)\s*:?\s*(.*?)\s*$")
MODULES = "[0-9][0-9]_*.ipynb"  # library notebooks, one module each
LESSONS = "course/[0-9][0-9]_*.ipynb"  # course lessons

def directives(source: str) -> tuple[dict, str]:
    "The leading `#| name: value` directives of a cell, and the source without them."
    found, lines = {}, source.splitlines()
    while lines and (m := DIRECTIVE.match(lines[0])):
        found[m.group(1).replace("-", "_")] = m.group(2)
        lines.pop(0)
    return found, "\n".join(lines).strip("\n")

def tags_for(d: dict) -> list[str]:
    "The myst-nb / nbclient tags that stand for nbdev directives `d`."
    tags = []
    if {"hide", "export", "exporti", "default_exp"} & set(d) or d.get("include") == "false": tags.append("remove-cell")
    if d.get("echo") == "false" or "hide_input" in d: tags.append("remove-input")
    if d.get("output") == "false": tags.append("remove-output")
    if d.get("eval") == "false": tags.append("skip-execution")
    return tags

SHOW_DOC = re.compile(r"^\s*show_doc\(.*\)\s*$")

def convert(nb):
    "Retag the code cells of `nb` in place; returns `nb`."
    for c in nb.cells:
        if c.cell_type != "code": continue
        d, src = directives(c.source)
        lines = [l for l in src.splitlines() if l.strip()]
        if lines and all(SHOW_DOC.match(l) for l in lines): d["echo"] = "false"  # as nbdev: only show_doc's output
        if not d: continue
        tags = list(c.metadata.get("tags", [])) + [t for t in tags_for(d) if t not in c.metadata.get("tags", [])]
        if tags: c.metadata["tags"] = tags
        if "remove-cell" not in tags: c.source = src
    return nb

def toctree(caption: str, docs: list[str]) -> str:
    "A MyST `toctree` directive listing `docs` (paths without suffix)."
    body = "\n".join(docs)
    return f"```{{toctree}}\n:caption: {caption}\n:maxdepth: 1\n:hidden:\n\n{body}\n```"

def stage(nbs: Path, dest: Path) -> list[Path]:
    "Copy `index.ipynb`, the module notebooks and the lessons from `nbs` to `dest`, converted; returns the pages."
    if dest.exists(): shutil.rmtree(dest)
    pages = [nbs / "index.ipynb", *sorted(nbs.glob(MODULES)), *sorted(nbs.glob(LESSONS))]
    for p in pages:
        nb = convert(nbformat.read(p, as_version=4))
        if p.name == "index.ipynb" and p.parent == nbs:
            rel = lambda ps: [q.relative_to(nbs).with_suffix("").as_posix() for q in ps]
            nb.cells.append(nbformat.v4.new_markdown_cell(
                toctree("API reference", rel(sorted(nbs.glob(MODULES)))) + "\n\n" + toctree("Course", rel(sorted(nbs.glob(LESSONS))))))
        out = dest / p.relative_to(nbs)
        out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out)
    # show_doc reads nbdev's settings from the nearest pyproject.toml above the working folder.
    shutil.copy(nbs.parent / "pyproject.toml", dest / "pyproject.toml")
    return pages

if __name__ == "__main__":
    if len(sys.argv) != 3: sys.exit("usage: python docs/stage.py NBS_DIR DEST_DIR")
    pages = stage(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"stage: {len(pages)} notebooks from {sys.argv[1]} into {sys.argv[2]}")
