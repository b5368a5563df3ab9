//! After any sequence of operations, every index equals what a full scan gives, and
//! every query returns exactly what filtering a full scan returns.

#![allow(clippy::unwrap_used)]

mod common;

use incident::{
    Applied, Category, Filter, Incident, IncidentManager, NewIncident, Order, Priority,
    ResolveInput, Status, Timestamp, Update,
};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Create {
        cat: u8,
        prio: u8,
        comps: Vec<u8>,
        day: u8,
        assignee: Option<u8>,
    },
    Update {
        target: usize,
        status: Option<bool>,
        prio: Option<u8>,
        cat: Option<u8>,
        assignee: Option<u8>,
        add: Option<u8>,
    },
    Resolve {
        target: usize,
    },
    Close {
        target: usize,
    },
    Reopen {
        target: usize,
    },
    Bulk {
        items: Vec<(u8, u8)>,
    },
    /// One group commit: (kind, component and day, target) per change; kind 0 creates,
    /// 1 creates with a blank component (invalid), 2 resolves, 3 closes.
    Batch {
        items: Vec<(u8, u8, usize)>,
    },
}

const COMPONENTS: [&str; 4] = ["db_client", "rabbitmq", "通知", "worker"];
const PEOPLE: [&str; 3] = ["sato", "田中", ""];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..6, 0u8..4, prop::collection::vec(0u8..4, 1..3), 0u8..5, prop::option::of(0u8..3))
            .prop_map(|(cat, prio, comps, day, assignee)| Op::Create { cat, prio, comps, day, assignee }),
        2 => (any::<usize>(), prop::option::of(any::<bool>()), prop::option::of(0u8..4), prop::option::of(0u8..6), prop::option::of(0u8..3), prop::option::of(0u8..4))
            .prop_map(|(target, status, prio, cat, assignee, add)| Op::Update { target, status, prio, cat, assignee, add }),
        1 => any::<usize>().prop_map(|target| Op::Resolve { target }),
        1 => any::<usize>().prop_map(|target| Op::Close { target }),
        1 => any::<usize>().prop_map(|target| Op::Reopen { target }),
        1 => prop::collection::vec((0u8..4, 0u8..5), 1..6).prop_map(|items| Op::Bulk { items }),
        2 => prop::collection::vec((0u8..4, 0u8..20, any::<usize>()), 1..8).prop_map(|items| Op::Batch { items }),
    ]
}

fn matches(f: &Filter, i: &Incident) -> bool {
    (f.statuses.is_empty() || f.statuses.contains(&i.status))
        && (f.categories.is_empty() || f.categories.contains(&i.category))
        && (f.priorities.is_empty() || f.priorities.contains(&i.priority))
        && (f.components.is_empty()
            || f.components
                .iter()
                .any(|c| i.affected_components.contains(c)))
        && (f.assignees.is_empty() || i.assignee.as_ref().is_some_and(|a| f.assignees.contains(a)))
        && f.since.is_none_or(|t| i.created_at >= t)
        && f.until.is_none_or(|t| i.created_at < t)
}

fn day(d: u8) -> Timestamp {
    Timestamp::parse(&format!("2025-03-{:02}T12:00:00Z", 1 + d as u32)).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn indexes_equal_a_full_scan(ops in prop::collection::vec(op(), 1..40), filters in prop::collection::vec((prop::option::of(0u8..4), prop::option::of(0u8..4), prop::option::of(0u8..6), prop::option::of(0u8..3), prop::option::of((0u8..5, 0u8..5)), any::<bool>(), prop::option::of(1usize..4)), 8)) {
        // A redb file, or a fresh PostgreSQL database (INCIDENT_TEST_BACKEND=postgres).
        let env = common::Env::new();
        let m = IncidentManager::open(env.db()).unwrap();
        let mut ids = Vec::new();
        for op in ops {
            let pick = |t: usize| ids.get(t % ids.len().max(1)).copied();
            // Refused operations are part of the sequence: they must leave no trace.
            let _ = match op {
                Op::Create { cat, prio, comps, day: d, assignee } => m
                    .create_incident(NewIncident {
                        category: Category::ALL[cat as usize],
                        priority: Priority::ALL[prio as usize],
                        title: "t".into(),
                        description: String::new(),
                        components: comps.iter().map(|c| COMPONENTS[*c as usize].to_string()).collect(),
                        impact: String::new(),
                        assignee: assignee.map(|a| PEOPLE[a as usize].to_string()),
                        at: Some(day(d)),
                        by: None,
                    })
                    .map(|i| ids.push(i.id)),
                Op::Update { target, status, prio, cat, assignee, add } => match pick(target) {
                    Some(id) => m.update_incident(id, Update {
                        status: status.map(|b| if b { Status::InProgress } else { Status::Open }),
                        priority: prio.map(|p| Priority::ALL[p as usize]),
                        category: cat.map(|c| Category::ALL[c as usize]),
                        assignee: assignee.map(|a| PEOPLE[a as usize].to_string()),
                        add_components: add.map(|c| vec![COMPONENTS[c as usize].to_string()]).unwrap_or_default(),
                        at: Some(day(4)),
                        ..Update::default()
                    }).map(|_| ()),
                    None => Ok(()),
                },
                Op::Resolve { target } => match pick(target) {
                    Some(id) => m.resolve_incident(id, ResolveInput { actions: vec!["a".into()], root_cause: "r".into(), at: Some(day(4)), ..ResolveInput::default() }).map(|_| ()),
                    None => Ok(()),
                },
                Op::Close { target } => match pick(target) {
                    Some(id) => m.close_incident(id, Some(day(4))).map(|_| ()),
                    None => Ok(()),
                },
                Op::Bulk { items } => {
                    let before = m.count().unwrap();
                    let news: Vec<NewIncident> = items.iter().map(|(c, d)| NewIncident {
                        category: Category::Change,
                        priority: Priority::Low,
                        title: "bulk".into(),
                        description: String::new(),
                        components: vec![COMPONENTS[*c as usize].to_string(), COMPONENTS[(*c as usize + 1) % 4].to_string()],
                        impact: String::new(),
                        assignee: Some("bulk".into()),
                        at: Some(day(*d)),
                        by: None,
                    }).collect();
                    let n = m.bulk_create(news, 2).unwrap();
                    let mut all = Vec::new();
                    m.for_each(|i| { all.push(i.id); Ok(()) }).unwrap();
                    ids = all;
                    prop_assert_eq!(m.count().unwrap(), before + n);
                    Ok(())
                }
                Op::Batch { items } => {
                    let before = m.count().unwrap();
                    let batch: Vec<incident::Op> = items.iter().map(|&(kind, x, target)| {
                        let new = |comp: &str| incident::Op::Create(NewIncident {
                            category: Category::Failure,
                            priority: Priority::High,
                            title: "batched".into(),
                            description: String::new(),
                            components: vec![comp.to_string()],
                            impact: String::new(),
                            assignee: None,
                            at: Some(day(x % 5)),
                            by: None,
                        });
                        match (kind, pick(target)) {
                            (0, _) => new(COMPONENTS[x as usize % 4]),
                            (2, Some(id)) => incident::Op::Resolve(id, ResolveInput { actions: vec!["a".into()], root_cause: "r".into(), at: Some(day(4)), ..ResolveInput::default() }),
                            (3, Some(id)) => incident::Op::Close { id, at: Some(day(4)), by: None },
                            _ => new("  "),
                        }
                    }).collect();
                    let blank: Vec<bool> = batch.iter().map(|op| matches!(op, incident::Op::Create(n) if n.components[0].trim().is_empty())).collect();
                    let results = m.apply_batch(batch).unwrap();
                    prop_assert_eq!(results.len(), items.len());
                    let mut made: Vec<incident::IncidentId> = Vec::new();
                    for (r, blank) in results.iter().zip(blank) {
                        prop_assert!(!blank || r.is_err(), "a blank component was accepted");
                        if let Ok(Applied::Created(i, _)) = r {
                            made.push(i.id);
                        }
                    }
                    // Ids handed out in one batch are new, distinct and, per day, in order.
                    for (k, a) in made.iter().enumerate() {
                        prop_assert!(!ids.contains(a));
                        for b in &made[k + 1..] {
                            prop_assert!(a.date() != b.date() || a < b, "{} then {}", a, b);
                        }
                    }
                    prop_assert_eq!(m.count().unwrap(), before + made.len() as u64);
                    ids.extend(made);
                    Ok(())
                }
                Op::Reopen { target } => match pick(target) {
                    Some(id) => m.reopen_incident(id, None, Some(day(4))).map(|_| ()),
                    None => Ok(()),
                },
            };
        }
        let report = m.check().unwrap();
        prop_assert!(report.problems.is_empty(), "{:?}", report.problems);

        let mut all = Vec::new();
        m.for_each(|i| { all.push(i); Ok(()) }).unwrap();
        for (s, p, c, comp, range, oldest, limit) in filters {
            let f = Filter {
                statuses: s.map(|s| vec![Status::ALL[s as usize]]).unwrap_or_default(),
                priorities: p.map(|p| vec![Priority::ALL[p as usize]]).unwrap_or_default(),
                categories: c.map(|c| vec![Category::ALL[c as usize]]).unwrap_or_default(),
                components: comp.map(|c| vec![COMPONENTS[c as usize].to_string()]).unwrap_or_default(),
                since: range.map(|(a, _)| day(a)),
                until: range.map(|(_, b)| day(b)),
                limit,
                order: if oldest { Order::OldestFirst } else { Order::NewestFirst },
                ..Filter::default()
            };
            let mut expected: Vec<_> = all.iter().filter(|i| matches(&f, i)).map(|i| i.id).collect();
            if !oldest { expected.reverse(); }
            if let Some(l) = limit { expected.truncate(l); }
            let got: Vec<_> = m.query(&f).unwrap().into_iter().map(|i| i.id).collect();
            prop_assert_eq!(got, expected, "filter {:?}", f);
        }
    }
}
