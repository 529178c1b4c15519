//! No import cycle between the module files of one crate (issue 13 item 5).
//!
//! Every crate of the workspace (each directory holding a `Cargo.toml`, so the fuzz crate and
//! the firmware image too) is parsed from its roots (`src/lib.rs`, `src/main.rs`, `lib.rs`,
//! `src/bin/*.rs`, and every `.rs` file of its root, `tests/`, `benches/`, `fuzz_targets/`)
//! along its `mod` declarations. In each module file, every `use` item and every path that
//! starts with `crate::`, `super::` or `self::` is resolved to the module file that defines
//! what it names, following re-exports (`pub use …`, also `*` globs) through facades such as
//! `mod.rs`. That gives a graph of files; a strongly connected component of more than one
//! file is a cycle, reported with the lines that close it.
//!
//! One thing is deliberately not an edge: a reference from a module to one of its own
//! ancestors (a child using an item its parent `mod.rs` or `lib.rs` defines). Rust nests a
//! child inside its parent, which declares it and re-exports it; counting that as a cycle
//! would flag every crate root. Cycles between siblings and cousins — the kind the issue
//! lists (`dpor/election.rs ↔ dpor/rpt.rs`) — are all caught.
//!
//! The parser is a small tokenizer (comments, strings and char literals skipped), not a Rust
//! front end: it needs no dependency and runs in milliseconds. Macro-generated paths other
//! than `$crate::` (ignored: they name the crate root) are not seen.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    /// `::`
    Sep,
    Punct(char),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: usize,
}

/// Tokens of Rust source with comments, string, byte-string, raw-string and char literals
/// dropped; lifetimes are kept as `'` + ident (harmless).
fn tokenize(src: &str) -> Vec<Token> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    let at = |k: usize| c.get(k).copied().unwrap_or('\0');
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if c[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if ch == '"' {
            i = skip_string(&c, i + 1, &mut line);
        } else if ch == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if at(i + 1) == '\\' {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                i += 3;
            } else {
                i += 1;
            }
        } else if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            let raw = word == "r" || word == "br";
            if word == "b" && at(i) == '"' {
                i = skip_string(&c, i + 1, &mut line);
            } else if word == "b" && at(i) == '\'' {
                i += 1;
                if at(i) == '\\' {
                    i += 1;
                }
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if raw && (at(i) == '"' || at(i) == '#') {
                let mut hashes = 0;
                let mut k = i;
                while at(k) == '#' {
                    hashes += 1;
                    k += 1;
                }
                if at(k) == '"' {
                    // Raw string: runs to `"` followed by the same number of `#`.
                    k += 1;
                    loop {
                        if k >= c.len() {
                            break;
                        }
                        if c[k] == '\n' {
                            line += 1;
                        }
                        if c[k] == '"' && (1..=hashes).all(|h| at(k + h) == '#') {
                            k += 1 + hashes;
                            break;
                        }
                        k += 1;
                    }
                    i = k;
                } else {
                    // A raw identifier `r#name`: the name follows.
                    i = k;
                }
            } else {
                out.push(Token {
                    tok: Tok::Ident(word),
                    line,
                });
            }
        } else if ch.is_ascii_digit() {
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
        } else if ch == ':' && at(i + 1) == ':' {
            out.push(Token {
                tok: Tok::Sep,
                line,
            });
            i += 2;
        } else {
            out.push(Token {
                tok: Tok::Punct(ch),
                line,
            });
            i += 1;
        }
    }
    out
}

/// Index just past the closing quote of a string whose body starts at `i`.
fn skip_string(c: &[char], mut i: usize, line: &mut usize) -> usize {
    while i < c.len() {
        match c[i] {
            '\\' => {
                // An escaped newline (a line continuation) still ends a line.
                if c.get(i + 1) == Some(&'\n') {
                    *line += 1;
                }
                i += 2;
            }
            '"' => return i + 1,
            '\n' => {
                *line += 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    i
}

/// One name a `use` item brings into a module.
#[derive(Debug, Clone)]
struct UseItem {
    /// The full path as written (`super::rpt::Rpt`), with a trailing `self` dropped.
    path: Vec<String>,
    /// The name it is visible as (its alias or last segment); `None` for a `*` glob.
    name: Option<String>,
    line: usize,
}

/// A module: a file, or an inline `mod name { … }` inside one.
#[derive(Debug)]
struct Module {
    file: usize,
    parent: Option<usize>,
    children: BTreeMap<String, usize>,
    defs: BTreeSet<String>,
    uses: Vec<UseItem>,
    /// Paths starting with `crate`, `super` or `self` outside `use` items.
    refs: Vec<(Vec<String>, usize)>,
}

/// One crate's module tree.
struct Crate {
    files: Vec<PathBuf>,
    modules: Vec<Module>,
}

fn ident(t: Option<&Token>) -> Option<&str> {
    match t.map(|t| &t.tok) {
        Some(Tok::Ident(s)) => Some(s),
        _ => None,
    }
}

fn is(t: Option<&Token>, want: &Tok) -> bool {
    t.is_some_and(|t| &t.tok == want)
}

/// Expand a use tree starting at `toks[*i]` under `prefix` into `out`.
fn use_tree(toks: &[Token], i: &mut usize, prefix: Vec<String>, out: &mut Vec<UseItem>) {
    let mut segs = prefix;
    loop {
        let Some(t) = toks.get(*i) else { return };
        let line = t.line;
        match &t.tok {
            Tok::Sep => *i += 1,
            Tok::Punct('*') => {
                *i += 1;
                out.push(UseItem {
                    path: segs,
                    name: None,
                    line,
                });
                return;
            }
            Tok::Punct('{') => {
                *i += 1;
                loop {
                    match toks.get(*i).map(|t| &t.tok) {
                        None => return,
                        Some(Tok::Punct('}')) => {
                            *i += 1;
                            return;
                        }
                        Some(Tok::Punct(',')) => *i += 1,
                        Some(_) => {
                            let before = *i;
                            use_tree(toks, i, segs.clone(), out);
                            if *i == before {
                                *i += 1;
                            }
                        }
                    }
                }
            }
            Tok::Ident(s) => {
                segs.push(s.clone());
                *i += 1;
                if is(toks.get(*i), &Tok::Sep) {
                    continue;
                }
                let mut name = segs.last().cloned();
                if ident(toks.get(*i)) == Some("as") {
                    name = ident(toks.get(*i + 1)).map(str::to_owned);
                    *i += 2;
                }
                if segs.len() > 1 && segs.last().map(String::as_str) == Some("self") {
                    segs.pop();
                    if name.as_deref() == Some("self") {
                        name = segs.last().cloned();
                    }
                }
                out.push(UseItem {
                    path: segs,
                    name,
                    line,
                });
                return;
            }
            Tok::Punct(_) => return,
        }
    }
}

const ITEM_KEYWORDS: [&str; 9] = [
    "fn",
    "struct",
    "enum",
    "trait",
    "type",
    "const",
    "static",
    "union",
    "macro_rules",
];

impl Crate {
    /// Parse the crate rooted at `root` (module path empty), reading files with `read`.
    fn load(root: &Path, read: &dyn Fn(&Path) -> Option<String>) -> Option<Crate> {
        let mut krate = Crate {
            files: Vec::new(),
            modules: Vec::new(),
        };
        let src = read(root)?;
        krate.add_file(root.to_path_buf(), None, &src, read, true);
        Some(krate)
    }

    /// Parse one file as module `parent`'s child (or the root), then the files it declares.
    fn add_file(
        &mut self,
        path: PathBuf,
        parent: Option<(usize, String)>,
        src: &str,
        read: &dyn Fn(&Path) -> Option<String>,
        mod_rs: bool,
    ) {
        let file = self.files.len();
        self.files.push(path.clone());
        let top = self.new_module(file, parent);
        // The directory that holds this file's child module files.
        let base = if mod_rs {
            path.parent().map(Path::to_path_buf).unwrap_or_default()
        } else {
            path.with_extension("")
        };
        let toks = tokenize(src);
        // (module, brace depth inside it, directory of its child files)
        let mut stack: Vec<(usize, usize, PathBuf)> = vec![(top, 0, base)];
        let mut depth = 0usize;
        let mut pending: Vec<(usize, String, PathBuf)> = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            let (cur, _, dir) = stack.last().cloned().expect("stack keeps its root");
            let prev_dollar = i > 0 && toks[i - 1].tok == Tok::Punct('$');
            match &toks[i].tok {
                Tok::Punct('{') => {
                    depth += 1;
                    i += 1;
                }
                Tok::Punct('}') => {
                    depth = depth.saturating_sub(1);
                    if stack.len() > 1 && stack.last().is_some_and(|s| depth < s.1) {
                        stack.pop();
                    }
                    i += 1;
                }
                Tok::Ident(kw) if kw == "mod" => {
                    let Some(name) = ident(toks.get(i + 1)).map(str::to_owned) else {
                        i += 1;
                        continue;
                    };
                    if is(toks.get(i + 2), &Tok::Punct(';')) {
                        pending.push((cur, name, dir.clone()));
                        i += 3;
                    } else if is(toks.get(i + 2), &Tok::Punct('{')) {
                        let m = self.new_module(file, Some((cur, name.clone())));
                        depth += 1;
                        stack.push((m, depth, dir.join(&name)));
                        i += 3;
                    } else {
                        i += 1;
                    }
                }
                Tok::Ident(kw) if kw == "use" => {
                    i += 1;
                    let mut items = Vec::new();
                    use_tree(&toks, &mut i, Vec::new(), &mut items);
                    self.modules[cur].uses.extend(items);
                }
                // An item of the module itself, not one inside an `impl` or `fn` body (an
                // associated `type Stats = …` defines nothing at module level).
                Tok::Ident(kw)
                    if ITEM_KEYWORDS.contains(&kw.as_str())
                        && stack.last().is_some_and(|s| s.1 == depth) =>
                {
                    let mut k = i + 1;
                    if kw == "macro_rules" && is(toks.get(k), &Tok::Punct('!')) {
                        k += 1;
                    }
                    if let Some(name) = ident(toks.get(k)) {
                        self.modules[cur].defs.insert(name.to_owned());
                    }
                    i += 1;
                }
                Tok::Ident(kw)
                    if (kw == "crate" || kw == "super" || kw == "self")
                        && is(toks.get(i + 1), &Tok::Sep)
                        && !prev_dollar =>
                {
                    let line = toks[i].line;
                    let mut segs = vec![kw.clone()];
                    i += 1;
                    while is(toks.get(i), &Tok::Sep) {
                        match ident(toks.get(i + 1)) {
                            Some(s) => {
                                segs.push(s.to_owned());
                                i += 2;
                            }
                            None => break,
                        }
                    }
                    self.modules[cur].refs.push((segs, line));
                }
                _ => i += 1,
            }
        }
        for (owner, name, dir) in pending {
            let flat = dir.join(format!("{name}.rs"));
            let nested = dir.join(&name).join("mod.rs");
            if let Some(src) = read(&flat) {
                self.add_file(flat, Some((owner, name)), &src, read, false);
            } else if let Some(src) = read(&nested) {
                self.add_file(nested, Some((owner, name)), &src, read, true);
            }
            // A declared module with no file is a build error the compiler reports.
        }
    }

    fn new_module(&mut self, file: usize, parent: Option<(usize, String)>) -> usize {
        let idx = self.modules.len();
        self.modules.push(Module {
            file,
            parent: parent.as_ref().map(|p| p.0),
            children: BTreeMap::new(),
            defs: BTreeSet::new(),
            uses: Vec::new(),
            refs: Vec::new(),
        });
        if let Some((p, name)) = parent {
            self.modules[p].children.insert(name, idx);
        }
        idx
    }

    /// The module defining what `segs` names when written in module `cur`; `None` for a
    /// path outside the crate (std, another crate).
    fn resolve(&self, cur: usize, segs: &[String], depth: usize) -> Option<usize> {
        let first = segs.first()?;
        let (mut m, mut rest) = match first.as_str() {
            "crate" => (0, &segs[1..]),
            "self" => (cur, &segs[1..]),
            "super" => (cur, segs),
            name if self.modules[cur].children.contains_key(name) => (cur, segs),
            _ => return None,
        };
        while let Some((seg, tail)) = rest.split_first() {
            if seg == "super" {
                m = self.modules[m].parent?;
            } else if seg == "self" {
            } else if let Some(&c) = self.modules[m].children.get(seg) {
                m = c;
            } else {
                return self.follow(m, seg, depth);
            }
            rest = tail;
        }
        Some(m)
    }

    /// Where item `name`, reached through module `m`, is defined: `m` itself, or wherever
    /// a `use` in `m` (named, then globs) takes it from.
    fn follow(&self, m: usize, name: &str, depth: usize) -> Option<usize> {
        let module = &self.modules[m];
        if depth > 16 || module.defs.contains(name) {
            return Some(m);
        }
        if let Some(u) = module.uses.iter().find(|u| u.name.as_deref() == Some(name)) {
            return self.resolve(m, &u.path, depth + 1);
        }
        for u in module.uses.iter().filter(|u| u.name.is_none()) {
            if let Some(g) = self.resolve(m, &u.path, depth + 1) {
                if g != m && self.provides(g, name) {
                    return self.follow(g, name, depth + 1);
                }
            }
        }
        Some(m)
    }

    fn provides(&self, m: usize, name: &str) -> bool {
        let module = &self.modules[m];
        module.defs.contains(name)
            || module.children.contains_key(name)
            || module.uses.iter().any(|u| u.name.as_deref() == Some(name))
    }

    /// Whether file `a` is an ancestor of (or is) file `b` in the module tree.
    fn file_is_ancestor(&self, a: usize, b: usize) -> bool {
        let mut m = self.modules.iter().position(|m| m.file == b);
        while let Some(k) = m {
            if self.modules[k].file == a {
                return true;
            }
            m = self.modules[k].parent;
        }
        false
    }

    /// File → file edges, each with the first line (in the source file) that makes it.
    fn edges(&self) -> BTreeMap<(usize, usize), usize> {
        let mut edges = BTreeMap::new();
        for (idx, m) in self.modules.iter().enumerate() {
            let paths = m
                .uses
                .iter()
                .map(|u| (u.path.as_slice(), u.line))
                .chain(m.refs.iter().map(|(p, l)| (p.as_slice(), *l)));
            for (path, line) in paths {
                let Some(t) = self.resolve(idx, path, 0) else {
                    continue;
                };
                let (from, to) = (m.file, self.modules[t].file);
                if from != to && !self.file_is_ancestor(to, from) {
                    edges.entry((from, to)).or_insert(line);
                }
            }
        }
        edges
    }

    /// Every cycle: the strongly connected components of more than one file, each as its
    /// files (sorted) and the edges inside it as "a.rs:LINE -> b.rs".
    fn cycles(&self) -> Vec<(Vec<PathBuf>, Vec<String>)> {
        let edges = self.edges();
        let n = self.files.len();
        let mut adj = vec![Vec::new(); n];
        for &(a, b) in edges.keys() {
            adj[a].push(b);
        }
        let comps = tarjan(&adj);
        comps
            .into_iter()
            .filter(|c| c.len() > 1)
            .map(|c| {
                let set: BTreeSet<usize> = c.into_iter().collect();
                let mut members: Vec<PathBuf> =
                    set.iter().map(|&f| self.files[f].clone()).collect();
                members.sort();
                let inside = edges
                    .iter()
                    .filter(|((a, b), _)| set.contains(a) && set.contains(b))
                    .map(|((a, b), line)| {
                        format!(
                            "{}:{} -> {}",
                            self.files[*a].display(),
                            line,
                            self.files[*b].display()
                        )
                    })
                    .collect();
                (members, inside)
            })
            .collect()
    }
}

/// Strongly connected components (Tarjan), iteratively.
fn tarjan(adj: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = adj.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut comps = Vec::new();
    let mut next = 0;
    for start in 0..n {
        if index[start] != usize::MAX {
            continue;
        }
        let mut work = vec![(start, 0usize)];
        while let Some(&mut (v, ref mut e)) = work.last_mut() {
            if *e == 0 && index[v] == usize::MAX {
                index[v] = next;
                low[v] = next;
                next += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if let Some(&w) = adj[v].get(*e) {
                *e += 1;
                if index[w] == usize::MAX {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(p, _)) = work.last() {
                low[p] = low[p].min(low[v]);
            }
            if low[v] == index[v] {
                let mut comp = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    comp.push(w);
                    if w == v {
                        break;
                    }
                }
                comps.push(comp);
            }
        }
    }
    comps
}

/// The crate roots of every `Cargo.toml` directory under `dir` (skipping `target` and
/// hidden directories).
fn crate_roots(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    if dir.join("Cargo.toml").is_file() {
        for sub in ["", "src", "src/bin", "tests", "benches", "fuzz_targets"] {
            let d = dir.join(sub);
            let Ok(files) = std::fs::read_dir(&d) else {
                continue;
            };
            let mut files: Vec<PathBuf> = files.filter_map(|e| e.ok().map(|e| e.path())).collect();
            files.sort();
            for f in files {
                let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
                let is_rs = f.extension().is_some_and(|e| e == "rs");
                // In src/ only lib.rs and main.rs are roots; the rest are their modules.
                if is_rs && (sub != "src" || name == "lib.rs" || name == "main.rs") {
                    out.push(f);
                }
            }
        }
    }
    for e in entries {
        let name = e.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if e.is_dir() && name != "target" && !name.starts_with('.') {
            crate_roots(&e, out);
        }
    }
}

fn read_disk(p: &Path) -> Option<String> {
    std::fs::read_to_string(p).ok()
}

/// Cycles found by this check that are not broken yet, each with its reason. The test fails
/// when a cycle appears that is not listed *and* when a listed one is gone (so the entry is
/// deleted with the fix). Each entry is the sorted set of files of one cycle, relative to
/// the workspace.
const KNOWN_CYCLES: &[(&[&str], &str)] = &[];

#[test]
fn no_import_cycle_between_module_files_of_any_crate() {
    // MODULE_CYCLES_ROOT checks another checkout (for example an older commit's tree).
    let default_root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("examples/ sits in the workspace")
        .to_path_buf();
    let workspace = std::env::var_os("MODULE_CYCLES_ROOT")
        .map(PathBuf::from)
        .unwrap_or(default_root);
    let workspace = workspace.as_path();
    let mut roots = Vec::new();
    crate_roots(workspace, &mut roots);
    let mut files = 0;
    let mut new_cycles = Vec::new();
    let mut known_seen = BTreeSet::new();
    for root in &roots {
        let krate = Crate::load(root, &read_disk).expect("a root found on disk reads");
        files += krate.files.len();
        for (members, edges) in krate.cycles() {
            let members: Vec<String> = members
                .iter()
                .map(|f| {
                    let p = f.strip_prefix(workspace).unwrap_or(f);
                    p.display().to_string()
                })
                .collect();
            match KNOWN_CYCLES
                .iter()
                .position(|(k, _)| *k == members.as_slice())
            {
                Some(i) => {
                    known_seen.insert(i);
                }
                None => new_cycles.push(edges),
            }
        }
    }
    // The walk must really see the SDK: its crates' module files, not just a few roots.
    assert!(roots.len() > 20, "crate roots found: {}", roots.len());
    assert!(files > 100, "module files parsed: {files}");
    assert!(
        new_cycles.is_empty(),
        "import cycles between module files: {new_cycles:#?}"
    );
    let gone: Vec<&[&str]> = (0..KNOWN_CYCLES.len())
        .filter(|i| !known_seen.contains(i))
        .map(|i| KNOWN_CYCLES[i].0)
        .collect();
    assert!(
        gone.is_empty(),
        "cycles listed in KNOWN_CYCLES no longer exist; delete their entries: {gone:?}"
    );
}

/// An in-memory crate for the checker's own tests.
fn mem_crate(files: &[(&str, &str)]) -> Crate {
    let map: BTreeMap<PathBuf, String> = files
        .iter()
        .map(|(p, s)| (PathBuf::from(p), (*s).to_owned()))
        .collect();
    Crate::load(Path::new("src/lib.rs"), &|p| map.get(p).cloned()).expect("root present")
}

#[test]
fn module_cycles_checker_finds_the_issue_13_shape_election_rpt() {
    // The shape the issue reported: dpor/election.rs used rpt::Rpt, dpor/rpt.rs used
    // election::Candidate, both re-exported through dpor/mod.rs.
    let krate = mem_crate(&[
        ("src/lib.rs", "pub mod dpor;\n"),
        (
            "src/dpor/mod.rs",
            "mod election;\nmod rpt;\npub use election::Candidate;\npub use rpt::Rpt;\n",
        ),
        (
            "src/dpor/election.rs",
            "use super::rpt::Rpt;\n/// a doc naming crate::dpor::rpt\npub struct Candidate { rpt: Rpt }\n",
        ),
        (
            "src/dpor/rpt.rs",
            "// use super::election::Candidate; (a comment, not an edge)\npub struct Rpt(u32);\n\
             pub fn candidate() -> super::Candidate { todo!() }\n",
        ),
    ]);
    let cycles: Vec<Vec<String>> = krate.cycles().into_iter().map(|c| c.1).collect();
    assert_eq!(
        cycles,
        vec![vec![
            "src/dpor/election.rs:1 -> src/dpor/rpt.rs".to_owned(),
            "src/dpor/rpt.rs:3 -> src/dpor/election.rs".to_owned(),
        ]]
    );
}

#[test]
fn module_cycles_checker_follows_globs_groups_and_inline_modules() {
    let krate = mem_crate(&[
        (
            "src/lib.rs",
            "mod a;\nmod b;\nmod c;\npub use c::*;\nfn f() { let s = \"crate::b::X\"; }\n",
        ),
        // `a` reaches `c` through the root's glob re-export, inside an inline module.
        (
            "src/a.rs",
            "mod inner {\n    use crate::{Z, b::{self as bee}};\n}\n",
        ),
        ("src/b.rs", "pub struct X;\n"),
        (
            "src/c.rs",
            "pub struct Z;\nfn g() -> crate::a::Q { r#\"crate::b\"# }\n",
        ),
    ]);
    let edges: Vec<(String, String)> = krate
        .edges()
        .keys()
        .map(|(a, b)| {
            (
                krate.files[*a].display().to_string(),
                krate.files[*b].display().to_string(),
            )
        })
        .collect();
    let e = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    // lib.rs → c.rs (the glob), a.rs → c.rs (Z via the glob), a.rs → b.rs, c.rs → a.rs;
    // nothing from the string literals.
    assert_eq!(
        edges,
        vec![
            e("src/lib.rs", "src/c.rs"),
            e("src/a.rs", "src/b.rs"),
            e("src/a.rs", "src/c.rs"),
            e("src/c.rs", "src/a.rs"),
        ]
    );
    assert_eq!(krate.cycles().len(), 1, "a.rs <-> c.rs");
}

#[test]
fn module_cycles_checker_resolves_through_a_facade_with_an_associated_type() {
    // `v/mod.rs` re-exports `Stats` from `v/out.rs` and also has an associated type named
    // `Stats`: a path to `crate::v::Stats` leads to out.rs, not to the facade.
    let krate = mem_crate(&[
        ("src/lib.rs", "mod b;\nmod v;\n"),
        (
            "src/v/mod.rs",
            "mod out;\npub use out::Stats;\nuse crate::b::helper;\n\
             impl Machine for V { type Stats = Stats; fn f() {} }\n",
        ),
        ("src/v/out.rs", "pub struct Stats;\n"),
        ("src/b.rs", "use crate::v::Stats;\npub fn helper() {}\n"),
    ]);
    let edges: Vec<(String, String)> = krate
        .edges()
        .keys()
        .map(|(a, b)| {
            (
                krate.files[*a].display().to_string(),
                krate.files[*b].display().to_string(),
            )
        })
        .collect();
    assert!(edges.contains(&("src/b.rs".to_owned(), "src/v/out.rs".to_owned())));
    assert!(!edges.contains(&("src/b.rs".to_owned(), "src/v/mod.rs".to_owned())));
    assert!(
        krate.cycles().is_empty(),
        "b -> v/out, v/mod -> b: no cycle"
    );
}
