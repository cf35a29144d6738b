//! Allocation candidates: which providers can satisfy a request, as placement decides.
//!
//! The search runs over a [`Snapshot`] of providers, inventories, usages, traits and
//! aggregates. Each request group is solved on its own, then the groups are combined
//! per *anchor* (the root of the provider tree a candidate lives in):
//!
//! - a numbered (granular) group must be satisfied entirely by one provider, which
//!   itself carries the group's required traits and aggregates;
//! - the unnumbered group may spread its resources over several providers of one tree,
//!   plus *sharing* providers (trait `MISC_SHARES_VIA_AGGREGATE`) that share an
//!   aggregate with the tree; together those providers must carry the required traits
//!   and none of them a forbidden one. Its `member_of` is satisfied by the provider or
//!   by the root of its tree (an aggregate on a root spans the tree).
//!
//! Combinations honour `group_policy=isolate` (numbered groups on distinct providers),
//! `same_subtree`, `root_required` (traits of the anchor) and, once amounts from several
//! groups land on the same inventory, capacity again. Before microversion 1.29 a
//! candidate may use only one provider per tree.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::model::Inventory;
use crate::standard::SHARES_VIA_AGGREGATE;

/// A provider as the search sees it.
#[derive(Debug, Clone)]
pub struct Node {
    pub uuid: String,
    pub parent: Option<usize>,
    pub root: usize,
}

/// Everything the search reads, loaded in one go.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Providers in creation order.
    pub nodes: Vec<Node>,
    pub index: HashMap<String, usize>,
    pub traits: HashMap<usize, BTreeSet<String>>,
    pub aggregates: HashMap<usize, BTreeSet<String>>,
    pub inventories: HashMap<(usize, String), Inventory>,
    pub usage: HashMap<(usize, String), i64>,
}

impl Snapshot {
    /// Build from rows keyed by provider UUID. `providers` is (uuid, parent, root) in
    /// creation order.
    pub fn build(
        providers: Vec<(String, Option<String>, String)>,
        traits: HashMap<String, BTreeSet<String>>,
        aggregates: HashMap<String, BTreeSet<String>>,
        inventories: HashMap<(String, String), Inventory>,
        usage: HashMap<(String, String), i64>,
    ) -> Snapshot {
        let index: HashMap<String, usize> = providers
            .iter()
            .enumerate()
            .map(|(i, (u, _, _))| (u.clone(), i))
            .collect();
        let nodes = providers
            .iter()
            .enumerate()
            .map(|(i, (u, parent, root))| Node {
                uuid: u.clone(),
                parent: parent.as_ref().and_then(|p| index.get(p).copied()),
                root: index.get(root).copied().unwrap_or(i),
            })
            .collect();
        let by_index = |m: HashMap<String, BTreeSet<String>>| {
            m.into_iter()
                .filter_map(|(k, v)| index.get(&k).map(|i| (*i, v)))
                .collect::<HashMap<_, _>>()
        };
        let traits = by_index(traits);
        let aggregates = by_index(aggregates);
        let inventories = inventories
            .into_iter()
            .filter_map(|((rp, rc), v)| index.get(&rp).map(|i| ((*i, rc), v)))
            .collect();
        let usage = usage
            .into_iter()
            .filter_map(|((rp, rc), v)| index.get(&rp).map(|i| ((*i, rc), v)))
            .collect();
        Snapshot {
            nodes,
            index,
            traits,
            aggregates,
            inventories,
            usage,
        }
    }

    pub fn used(&self, rp: usize, rc: &str) -> i64 {
        self.usage.get(&(rp, rc.to_string())).copied().unwrap_or(0)
    }

    fn fits(&self, rp: usize, rc: &str, amount: i64) -> bool {
        self.inventories
            .get(&(rp, rc.to_string()))
            .is_some_and(|inv| crate::capacity::fits(inv, self.used(rp, rc), amount))
    }

    fn traits_of(&self, rp: usize) -> Option<&BTreeSet<String>> {
        self.traits.get(&rp)
    }

    fn has_trait(&self, rp: usize, t: &str) -> bool {
        self.traits_of(rp).is_some_and(|s| s.contains(t))
    }

    fn aggs_of(&self, rp: usize) -> Option<&BTreeSet<String>> {
        self.aggregates.get(&rp)
    }

    /// Member of at least one aggregate of every set.
    fn in_all(&self, rp: usize, member_of: &[BTreeSet<String>]) -> bool {
        member_of.iter().all(|set| {
            self.aggs_of(rp)
                .is_some_and(|a| set.iter().any(|x| a.contains(x)))
        })
    }

    fn in_any(&self, rp: usize, aggs: &BTreeSet<String>) -> bool {
        self.aggs_of(rp)
            .is_some_and(|a| aggs.iter().any(|x| a.contains(x)))
    }

    fn is_sharing(&self, rp: usize) -> bool {
        self.has_trait(rp, SHARES_VIA_AGGREGATE)
    }

    pub fn has_trees(&self) -> bool {
        self.nodes.iter().any(|n| n.parent.is_some())
    }

    /// Roots of the trees a sharing provider serves: every tree with a provider in one
    /// of its aggregates (its own tree included).
    fn anchors_of_sharing(&self, rp: usize) -> BTreeSet<usize> {
        let mut out = BTreeSet::new();
        let Some(mine) = self.aggs_of(rp) else {
            return out;
        };
        for (other, aggs) in &self.aggregates {
            if aggs.iter().any(|a| mine.contains(a))
                && let Some(n) = self.nodes.get(*other)
            {
                out.insert(n.root);
            }
        }
        out
    }

    /// Individually satisfies `required` (a list of any-of sets) and has no forbidden
    /// trait.
    fn satisfies_traits(
        &self,
        rp: usize,
        required: &[BTreeSet<String>],
        forbidden: &BTreeSet<String>,
    ) -> bool {
        let empty = BTreeSet::new();
        let t = self.traits_of(rp).unwrap_or(&empty);
        required.iter().all(|any| any.iter().any(|x| t.contains(x)))
            && !forbidden.iter().any(|x| t.contains(x))
    }

    /// The providers of a tree, for summaries.
    fn tree_members(&self, root: usize) -> impl Iterator<Item = usize> + '_ {
        self.nodes
            .iter()
            .enumerate()
            .filter(move |(_, n)| n.root == root)
            .map(|(i, _)| i)
    }

    fn ancestors(&self, rp: usize) -> BTreeSet<usize> {
        let mut out = BTreeSet::new();
        let mut cur = Some(rp);
        while let Some(c) = cur {
            if !out.insert(c) {
                break;
            }
            cur = self.nodes.get(c).and_then(|n| n.parent);
        }
        out
    }
}

/// One request group (`resources[$S]`, `required[$S]`, `member_of[$S]`, `in_tree[$S]`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Group {
    /// `""` for the unnumbered group.
    pub suffix: String,
    /// Numbered groups must be satisfied by a single provider.
    pub use_same_provider: bool,
    pub resources: BTreeMap<String, i64>,
    /// Each set is "any of"; the list is "all of".
    pub required: Vec<BTreeSet<String>>,
    pub forbidden: BTreeSet<String>,
    /// Each set is "any of"; the list is "all of".
    pub member_of: Vec<BTreeSet<String>>,
    pub forbidden_aggs: BTreeSet<String>,
    pub in_tree: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupPolicy {
    None,
    Isolate,
}

/// Request-wide parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Wide {
    pub limit: Option<usize>,
    pub group_policy: Option<GroupPolicy>,
    pub root_required: BTreeSet<String>,
    pub root_forbidden: BTreeSet<String>,
    pub same_subtrees: Vec<BTreeSet<String>>,
    /// 1.29+: a candidate may combine several providers of one tree.
    pub nested_aware: bool,
    /// `[placement] max_allocation_candidates`
    pub max_candidates: Option<usize>,
}

impl Default for Wide {
    fn default() -> Self {
        Wide {
            limit: None,
            group_policy: None,
            root_required: BTreeSet::new(),
            root_forbidden: BTreeSet::new(),
            same_subtrees: Vec::new(),
            nested_aware: true,
            max_candidates: None,
        }
    }
}

/// One candidate: amounts per (provider, class) and which providers satisfied which
/// group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Candidate {
    pub anchor: usize,
    pub resources: BTreeMap<(usize, String), i64>,
    pub mappings: BTreeMap<String, BTreeSet<usize>>,
}

/// The result: candidates in a stable order, and the providers to summarise.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub candidates: Vec<Candidate>,
    pub summaries: Vec<usize>,
}

/// Providers able to serve one class, by the anchor they serve it under.
type ByAnchor = BTreeMap<usize, Vec<usize>>;

/// What makes two candidates the same.
type CandidateKey = (
    BTreeMap<(usize, String), i64>,
    BTreeMap<String, BTreeSet<usize>>,
);

/// A partial candidate for one group.
#[derive(Debug, Clone)]
struct Part {
    anchor: usize,
    same: bool,
    resources: Vec<(usize, String, i64)>,
    providers: BTreeSet<usize>,
}

struct Search<'a> {
    snap: &'a Snapshot,
    wide: &'a Wide,
    /// `None`: every root may anchor.
    anchors: Option<HashSet<usize>>,
    has_trees: bool,
    sharing: Vec<usize>,
}

impl Search<'_> {
    fn anchor_ok(&self, a: usize) -> bool {
        self.anchors.as_ref().is_none_or(|s| s.contains(&a))
    }

    fn tree_root(&self, g: &Group) -> Result<Option<usize>, ()> {
        match &g.in_tree {
            None => Ok(None),
            Some(u) => match self.snap.index.get(u) {
                Some(i) => Ok(self.snap.nodes.get(*i).map(|n| n.root)),
                None => Err(()),
            },
        }
    }

    /// One provider satisfies the whole group.
    fn single(&self, g: &Group) -> Vec<Part> {
        let Ok(root) = self.tree_root(g) else {
            return Vec::new();
        };
        let snap = self.snap;
        let mut out = Vec::new();
        for (i, n) in snap.nodes.iter().enumerate() {
            if root.is_some_and(|r| n.root != r) {
                continue;
            }
            if !g.resources.iter().all(|(rc, amt)| snap.fits(i, rc, *amt)) {
                continue;
            }
            if !snap.satisfies_traits(i, &g.required, &g.forbidden)
                || !snap.in_all(i, &g.member_of)
                || snap.in_any(i, &g.forbidden_aggs)
            {
                continue;
            }
            let resources: Vec<(usize, String, i64)> = g
                .resources
                .iter()
                .map(|(rc, amt)| (i, rc.clone(), *amt))
                .collect();
            let mut anchors = BTreeSet::new();
            anchors.insert(n.root);
            if snap.is_sharing(i) {
                anchors.extend(snap.anchors_of_sharing(i));
            }
            for a in anchors {
                if self.anchor_ok(a) {
                    out.push(Part {
                        anchor: a,
                        same: g.use_same_provider,
                        resources: resources.clone(),
                        providers: BTreeSet::from([i]),
                    });
                }
            }
        }
        out
    }

    /// The unnumbered group over trees and sharing providers.
    fn spread(&self, g: &Group) -> Vec<Part> {
        let Ok(root) = self.tree_root(g) else {
            return Vec::new();
        };
        let snap = self.snap;
        let in_aggs: Option<HashSet<usize>> = (!g.member_of.is_empty()).then(|| {
            (0..snap.nodes.len())
                .filter(|i| snap.in_all(*i, &g.member_of))
                .collect()
        });
        let bad: HashSet<usize> = if g.forbidden_aggs.is_empty() {
            HashSet::new()
        } else {
            (0..snap.nodes.len())
                .filter(|i| snap.in_any(*i, &g.forbidden_aggs))
                .collect()
        };
        // Per class: (provider, anchor) pairs able to serve it.
        let mut per_class: Vec<(&String, i64, ByAnchor)> = Vec::new();
        for (rc, amt) in &g.resources {
            let mut pairs: BTreeSet<(usize, usize)> = BTreeSet::new();
            for (i, n) in snap.nodes.iter().enumerate() {
                if root.is_some_and(|r| n.root != r) {
                    continue;
                }
                if snap.fits(i, rc, *amt) {
                    pairs.insert((i, n.root));
                }
            }
            if root.is_none() {
                for &s in &self.sharing {
                    if in_aggs.as_ref().is_some_and(|set| !set.contains(&s)) {
                        continue;
                    }
                    if snap.fits(s, rc, *amt) {
                        for a in snap.anchors_of_sharing(s) {
                            pairs.insert((s, a));
                        }
                    }
                }
            }
            let mut by_anchor: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
            for (p, a) in pairs {
                if !self.anchor_ok(a) {
                    continue;
                }
                if let Some(set) = &in_aggs
                    && !set.contains(&p)
                    && !set.contains(&a)
                {
                    continue;
                }
                if bad.contains(&p) || bad.contains(&a) {
                    continue;
                }
                by_anchor.entry(a).or_default().push(p);
            }
            if by_anchor.is_empty() {
                return Vec::new();
            }
            per_class.push((rc, *amt, by_anchor));
        }
        let Some((_, _, first)) = per_class.first() else {
            return Vec::new();
        };
        let anchors: Vec<usize> = first
            .keys()
            .copied()
            .filter(|a| per_class.iter().all(|(_, _, m)| m.contains_key(a)))
            .collect();
        let mut out = Vec::new();
        for a in anchors {
            let lists: Vec<(&String, i64, &Vec<usize>)> = per_class
                .iter()
                .filter_map(|(rc, amt, m)| m.get(&a).map(|l| (*rc, *amt, l)))
                .collect();
            let sizes: Vec<usize> = lists.iter().map(|(_, _, l)| l.len()).collect();
            for combo in Product::new(sizes) {
                let chosen: Vec<usize> = combo
                    .iter()
                    .zip(&lists)
                    .map(|(k, (_, _, l))| l[*k])
                    .collect();
                // None may carry a forbidden trait; together they carry the required.
                if chosen
                    .iter()
                    .any(|p| !snap.satisfies_traits(*p, &[], &g.forbidden))
                {
                    continue;
                }
                let mut all: BTreeSet<&String> = BTreeSet::new();
                for p in &chosen {
                    if let Some(t) = snap.traits_of(*p) {
                        all.extend(t.iter());
                    }
                }
                if !g
                    .required
                    .iter()
                    .all(|any| any.iter().any(|x| all.contains(x)))
                {
                    continue;
                }
                out.push(Part {
                    anchor: a,
                    same: false,
                    resources: chosen
                        .iter()
                        .zip(&lists)
                        .map(|(p, (rc, amt, _))| (*p, (*rc).clone(), *amt))
                        .collect(),
                    providers: chosen.iter().copied().collect(),
                });
            }
        }
        out
    }

    fn parts(&self, g: &Group) -> Vec<Part> {
        if g.use_same_provider || (!self.has_trees && self.sharing.is_empty()) {
            self.single(g)
        } else {
            self.spread(g)
        }
    }

    fn same_subtree_ok(&self, groups: &[Group], parts: &[&Part]) -> bool {
        for subtree in &self.wide.same_subtrees {
            let mut rps: BTreeSet<usize> = BTreeSet::new();
            for (g, p) in groups.iter().zip(parts) {
                if subtree.contains(&g.suffix) {
                    rps.extend(p.providers.iter().copied());
                }
            }
            if rps.len() <= 1 {
                continue;
            }
            let mut common: Option<BTreeSet<usize>> = None;
            for rp in &rps {
                let anc = self.snap.ancestors(*rp);
                common = Some(match common {
                    None => anc,
                    Some(c) => c.intersection(&anc).copied().collect(),
                });
            }
            if !common.is_some_and(|c| rps.iter().any(|r| c.contains(r))) {
                return false;
            }
        }
        true
    }

    fn isolate_ok(&self, groups: &[Group], parts: &[&Part]) -> bool {
        if self.wide.group_policy != Some(GroupPolicy::Isolate) {
            return true;
        }
        let granular = groups.iter().filter(|g| g.use_same_provider).count();
        let distinct: BTreeSet<usize> = parts
            .iter()
            .filter(|p| p.same)
            .flat_map(|p| p.providers.iter().copied())
            .collect();
        distinct.len() == granular
    }

    fn consolidate(&self, groups: &[Group], parts: &[&Part]) -> Candidate {
        let mut resources: BTreeMap<(usize, String), i64> = BTreeMap::new();
        let mut mappings: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
        for (g, p) in groups.iter().zip(parts) {
            for (rp, rc, amt) in &p.resources {
                let e = resources.entry((*rp, rc.clone())).or_insert(0);
                *e = e.saturating_add(*amt);
            }
            mappings
                .entry(g.suffix.clone())
                .or_default()
                .extend(p.providers.iter().copied());
        }
        Candidate {
            anchor: parts.first().map(|p| p.anchor).unwrap_or(0),
            resources,
            mappings,
        }
    }

    fn within_capacity(&self, c: &Candidate) -> bool {
        c.resources.iter().all(|((rp, rc), amt)| {
            self.snap
                .inventories
                .get(&(*rp, rc.clone()))
                .is_some_and(|inv| {
                    self.snap.used(*rp, rc).saturating_add(*amt) <= inv.capacity()
                        && *amt <= inv.max_unit
                })
        })
    }

    /// Pre-1.29: at most one provider per tree.
    fn flat_ok(&self, c: &Candidate) -> bool {
        if self.wide.nested_aware || !self.has_trees {
            return true;
        }
        let rps: BTreeSet<usize> = c.resources.keys().map(|(rp, _)| *rp).collect();
        let roots: BTreeSet<usize> = rps
            .iter()
            .filter_map(|rp| self.snap.nodes.get(*rp).map(|n| n.root))
            .collect();
        rps.len() == roots.len()
    }
}

/// Odometer over the index space of several lists.
struct Product {
    sizes: Vec<usize>,
    cur: Vec<usize>,
    done: bool,
}

impl Product {
    fn new(sizes: Vec<usize>) -> Self {
        let done = sizes.contains(&0);
        Product {
            cur: vec![0; sizes.len()],
            sizes,
            done,
        }
    }
}

impl Iterator for Product {
    type Item = Vec<usize>;

    fn next(&mut self) -> Option<Vec<usize>> {
        if self.done {
            return None;
        }
        let out = self.cur.clone();
        let mut i = self.cur.len();
        loop {
            if i == 0 {
                self.done = true;
                break;
            }
            i -= 1;
            self.cur[i] += 1;
            if self.cur[i] < self.sizes[i] {
                break;
            }
            self.cur[i] = 0;
        }
        Some(out)
    }
}

/// Run the search. `groups` is in request order.
pub fn search(snap: &Snapshot, groups: &[Group], wide: &Wide) -> Outcome {
    let anchors = if wide.root_required.is_empty() && wide.root_forbidden.is_empty() {
        None
    } else {
        let req: Vec<BTreeSet<String>> = wide
            .root_required
            .iter()
            .map(|t| BTreeSet::from([t.clone()]))
            .collect();
        let set: HashSet<usize> = snap
            .nodes
            .iter()
            .enumerate()
            .filter(|(i, n)| n.root == *i && snap.satisfies_traits(*i, &req, &wide.root_forbidden))
            .map(|(i, _)| i)
            .collect();
        if set.is_empty() {
            return Outcome::default();
        }
        Some(set)
    };
    let sharing: Vec<usize> = (0..snap.nodes.len())
        .filter(|i| snap.is_sharing(*i))
        .collect();
    let s = Search {
        snap,
        wide,
        anchors,
        has_trees: snap.has_trees(),
        sharing,
    };
    // Parts per group, grouped by anchor.
    let mut by_anchor: BTreeMap<usize, Vec<Vec<Part>>> = BTreeMap::new();
    for (gi, g) in groups.iter().enumerate() {
        let parts = s.parts(g);
        if parts.is_empty() {
            return Outcome::default();
        }
        for p in parts {
            let slot = by_anchor
                .entry(p.anchor)
                .or_insert_with(|| vec![Vec::new(); groups.len()]);
            if let Some(v) = slot.get_mut(gi) {
                v.push(p);
            }
        }
    }
    let cap = match (wide.limit, wide.max_candidates) {
        (Some(l), Some(m)) => Some(l.min(m)),
        (l, m) => l.or(m),
    };
    let mut seen: HashSet<CandidateKey> = HashSet::new();
    let mut out: Vec<Candidate> = Vec::new();
    'anchors: for lists in by_anchor.values() {
        if lists.iter().any(Vec::is_empty) {
            continue;
        }
        let sizes = lists.iter().map(Vec::len).collect();
        for combo in Product::new(sizes) {
            let parts: Vec<&Part> = combo.iter().zip(lists).map(|(k, l)| &l[*k]).collect();
            if !s.isolate_ok(groups, &parts) || !s.same_subtree_ok(groups, &parts) {
                continue;
            }
            let c = s.consolidate(groups, &parts);
            if !s.within_capacity(&c) || !s.flat_ok(&c) {
                continue;
            }
            if !seen.insert((c.resources.clone(), c.mappings.clone())) {
                continue;
            }
            out.push(c);
            if cap.is_some_and(|n| out.len() >= n) {
                break 'anchors;
            }
        }
    }
    // Summaries: every provider of the trees in play (before 1.29 with trees: only the
    // providers used).
    let mut summaries: Vec<usize> = Vec::new();
    if !wide.nested_aware && s.has_trees {
        let used: BTreeSet<usize> = out
            .iter()
            .flat_map(|c| c.resources.keys().map(|(rp, _)| *rp))
            .collect();
        summaries.extend(used);
    } else {
        let roots: BTreeSet<usize> = out
            .iter()
            .flat_map(|c| c.resources.keys().map(|(rp, _)| *rp))
            .chain(
                out.iter()
                    .flat_map(|c| c.mappings.values().flatten().copied()),
            )
            .filter_map(|rp| snap.nodes.get(rp).map(|n| n.root))
            .collect();
        for r in roots {
            summaries.extend(snap.tree_members(r));
        }
        summaries.sort_unstable();
    }
    Outcome {
        candidates: out,
        summaries,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(rc: &str, total: i64) -> Inventory {
        Inventory {
            resource_class: rc.into(),
            total,
            reserved: 0,
            min_unit: 1,
            max_unit: total,
            step_size: 1,
            allocation_ratio: 1.0,
            updated_at: 0,
        }
    }

    struct B {
        providers: Vec<(String, Option<String>, String)>,
        traits: HashMap<String, BTreeSet<String>>,
        aggs: HashMap<String, BTreeSet<String>>,
        invs: HashMap<(String, String), Inventory>,
    }

    impl B {
        fn new() -> Self {
            B {
                providers: Vec::new(),
                traits: HashMap::new(),
                aggs: HashMap::new(),
                invs: HashMap::new(),
            }
        }
        fn rp(mut self, u: &str, parent: Option<&str>) -> Self {
            let root = match parent {
                Some(p) => self
                    .providers
                    .iter()
                    .find(|(x, _, _)| x == p)
                    .map(|(_, _, r)| r.clone())
                    .unwrap_or_default(),
                None => u.to_string(),
            };
            self.providers
                .push((u.into(), parent.map(str::to_string), root));
            self
        }
        fn inv(mut self, u: &str, rc: &str, total: i64) -> Self {
            self.invs.insert((u.into(), rc.into()), inv(rc, total));
            self
        }
        fn tr(mut self, u: &str, t: &str) -> Self {
            self.traits.entry(u.into()).or_default().insert(t.into());
            self
        }
        fn agg(mut self, u: &str, a: &str) -> Self {
            self.aggs.entry(u.into()).or_default().insert(a.into());
            self
        }
        fn snap(self) -> Snapshot {
            Snapshot::build(
                self.providers,
                self.traits,
                self.aggs,
                self.invs,
                HashMap::new(),
            )
        }
    }

    fn group(res: &[(&str, i64)]) -> Group {
        Group {
            resources: res.iter().map(|(k, v)| ((*k).to_string(), *v)).collect(),
            ..Group::default()
        }
    }

    fn names(s: &Snapshot, c: &Candidate) -> Vec<(String, String, i64)> {
        c.resources
            .iter()
            .map(|((rp, rc), a)| (s.nodes[*rp].uuid.clone(), rc.clone(), *a))
            .collect()
    }

    #[test]
    fn flat_providers_with_traits_and_aggregates() {
        let s = B::new()
            .rp("cn1", None)
            .rp("cn2", None)
            .inv("cn1", "VCPU", 4)
            .inv("cn2", "VCPU", 8)
            .tr("cn2", "HW_CPU_X86_AVX2")
            .agg("cn1", "a1")
            .snap();
        let out = search(&s, &[group(&[("VCPU", 2)])], &Wide::default());
        assert_eq!(out.candidates.len(), 2);
        let mut g = group(&[("VCPU", 2)]);
        g.required = vec![BTreeSet::from(["HW_CPU_X86_AVX2".to_string()])];
        let out = search(&s, &[g.clone()], &Wide::default());
        assert_eq!(out.candidates.len(), 1);
        assert_eq!(names(&s, &out.candidates[0])[0].0, "cn2");
        g.required.clear();
        g.forbidden = BTreeSet::from(["HW_CPU_X86_AVX2".to_string()]);
        assert_eq!(search(&s, &[g], &Wide::default()).candidates.len(), 1);
        let mut g = group(&[("VCPU", 2)]);
        g.member_of = vec![BTreeSet::from(["a1".to_string()])];
        let out = search(&s, &[g], &Wide::default());
        assert_eq!(out.candidates.len(), 1);
        assert_eq!(out.summaries, vec![0]);
        // too big for either
        assert!(
            search(&s, &[group(&[("VCPU", 9)])], &Wide::default())
                .candidates
                .is_empty()
        );
        let w = Wide {
            limit: Some(1),
            ..Wide::default()
        };
        assert_eq!(search(&s, &[group(&[("VCPU", 1)])], &w).candidates.len(), 1);
    }

    #[test]
    fn nested_tree_combines_root_and_children() {
        let s = B::new()
            .rp("cn", None)
            .rp("numa0", Some("cn"))
            .rp("numa1", Some("cn"))
            .rp("pf", Some("cn"))
            .inv("cn", "DISK_GB", 100)
            .inv("numa0", "VCPU", 4)
            .inv("numa0", "MEMORY_MB", 2048)
            .inv("numa1", "VCPU", 4)
            .inv("numa1", "MEMORY_MB", 2048)
            .inv("pf", "SRIOV_NET_VF", 8)
            .tr("pf", "CUSTOM_PHYSNET_A")
            .snap();
        let out = search(
            &s,
            &[group(&[("VCPU", 2), ("MEMORY_MB", 1024), ("DISK_GB", 10)])],
            &Wide::default(),
        );
        // VCPU from numa0|numa1 x MEMORY from numa0|numa1, disk from the root
        assert_eq!(out.candidates.len(), 4);
        assert_eq!(out.summaries.len(), 4);
        // granular: VCPU+MEMORY from the same NUMA node
        let mut g1 = group(&[("VCPU", 2), ("MEMORY_MB", 1024)]);
        g1.suffix = "1".into();
        g1.use_same_provider = true;
        let mut g2 = group(&[("SRIOV_NET_VF", 1)]);
        g2.suffix = "2".into();
        g2.use_same_provider = true;
        g2.required = vec![BTreeSet::from(["CUSTOM_PHYSNET_A".to_string()])];
        let w = Wide {
            group_policy: Some(GroupPolicy::Isolate),
            ..Wide::default()
        };
        let out = search(&s, &[group(&[("DISK_GB", 10)]), g1.clone(), g2], &w);
        assert_eq!(out.candidates.len(), 2);
        assert!(out.candidates.iter().all(|c| c.mappings.len() == 3));
        // isolate: two granular groups cannot land on the same NUMA node
        let mut g1b = g1.clone();
        g1b.suffix = "3".into();
        let out = search(&s, &[g1.clone(), g1b.clone()], &w);
        assert_eq!(out.candidates.len(), 2);
        let none = Wide {
            group_policy: Some(GroupPolicy::None),
            ..Wide::default()
        };
        assert_eq!(search(&s, &[g1, g1b], &none).candidates.len(), 4);
        // before 1.29 a candidate uses one provider per tree: nothing fits
        let old = Wide {
            nested_aware: false,
            ..Wide::default()
        };
        assert!(
            search(&s, &[group(&[("VCPU", 2), ("DISK_GB", 1)])], &old)
                .candidates
                .is_empty()
        );
    }

    #[test]
    fn sharing_providers_anchor_to_their_aggregates() {
        let s = B::new()
            .rp("cn1", None)
            .rp("cn2", None)
            .rp("nfs", None)
            .inv("cn1", "VCPU", 4)
            .inv("cn2", "VCPU", 4)
            .inv("nfs", "DISK_GB", 1000)
            .tr("nfs", SHARES_VIA_AGGREGATE)
            .agg("cn1", "agg")
            .agg("nfs", "agg")
            .snap();
        let out = search(
            &s,
            &[group(&[("VCPU", 1), ("DISK_GB", 100)])],
            &Wide::default(),
        );
        assert_eq!(out.candidates.len(), 1);
        let n = names(&s, &out.candidates[0]);
        assert!(n.contains(&("cn1".into(), "VCPU".into(), 1)));
        assert!(n.contains(&("nfs".into(), "DISK_GB".into(), 100)));
        // root_required filters anchors
        let w = Wide {
            root_required: BTreeSet::from(["CUSTOM_NOPE".to_string()]),
            ..Wide::default()
        };
        assert!(
            search(&s, &[group(&[("VCPU", 1)])], &w)
                .candidates
                .is_empty()
        );
    }

    #[test]
    fn product_enumerates_everything() {
        assert_eq!(Product::new(vec![2, 3]).count(), 6);
        assert_eq!(Product::new(vec![2, 0]).count(), 0);
        assert_eq!(Product::new(vec![]).count(), 1);
    }
}
