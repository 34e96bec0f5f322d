//! Checks of the resources a scenario declares: names, sizes, typecodes,
//! initial values, pipes, managers.

use super::*;
use crate::scenario::raw::*;
use crate::scenario::*;

impl Checker<'_> {
    pub(super) fn resources(&mut self, raw: &RawFile) -> Res<Vec<ResourceSpec>> {
        let mut out = Vec::new();
        for q in &raw.queue {
            let kind = if q.joinable {
                Kind::JoinableQueue
            } else {
                Kind::Queue
            };
            let name = self.declare(&q.name, kind)?;
            let capacity = match &q.capacity {
                Some(c) => self.range(c, 1, MAX_QUEUE_CAPACITY, "capacity")? as usize,
                None => 64,
            };
            let max_message = match &q.max_message {
                Some(m) => self.range(m, 8, MAX_MESSAGE, "max_message")? as usize,
                None => 1024,
            };
            self.max_message.insert(name.clone(), max_message);
            out.push(ResourceSpec::Queue {
                name,
                capacity,
                max_message,
                joinable: q.joinable,
            });
        }
        for p in &raw.pipe {
            let name = self.declare(&p.name, Kind::Pipe)?;
            out.push(ResourceSpec::Pipe {
                name,
                duplex: p.duplex,
            });
        }
        for l in &raw.lock {
            let name = self.declare(&l.name, Kind::Lock)?;
            out.push(ResourceSpec::Lock {
                name,
                recursive: l.recursive,
            });
        }
        for s in &raw.semaphore {
            let name = self.declare(&s.name, Kind::Semaphore)?;
            out.push(ResourceSpec::Semaphore {
                name,
                value: self.range(&s.value, 0, 1 << 20, "value")? as u32,
                bounded: s.bounded,
            });
        }
        for e in &raw.event {
            let name = self.declare(&e.name, Kind::Event)?;
            out.push(ResourceSpec::Event { name });
        }
        for b in &raw.barrier {
            let name = self.declare(&b.name, Kind::Barrier)?;
            out.push(ResourceSpec::Barrier {
                name,
                parties: self.range(
                    &b.parties,
                    1,
                    crate::runtime::sync::MAX_PARTIES as u64,
                    "parties",
                )? as u32,
            });
        }
        for v in &raw.value {
            let name = self.declare(&v.name, Kind::Value)?;
            let tc = self.typecode(&v.typecode)?;
            let init = self.int_for(v.init.span(), tc, *v.init.get_ref())?;
            out.push(ResourceSpec::Array {
                name,
                typecode: tc,
                init: vec![init],
                lock: v.lock,
                is_value: true,
            });
        }
        for a in &raw.array {
            let spec = self.array(a)?;
            out.push(spec);
        }
        if let Some(m) = &raw.manager {
            let spec = self.manager(m)?;
            out.push(spec);
        }
        Ok(out)
    }

    /// An `[[array]]`: its typecode and either its values or its size.
    fn array(&mut self, a: &RawArray) -> Res<ResourceSpec> {
        let name = self.declare(&a.name, Kind::Array)?;
        let tc = self.typecode(&a.typecode)?;
        let init = match (&a.init, &a.size) {
            (Some(i), None) => {
                if i.get_ref().len() as u64 > MAX_ARRAY {
                    return self.err(i.span(), format!("at most {MAX_ARRAY} elements"));
                }
                i.get_ref()
                    .iter()
                    .map(|v| self.int_for(i.span(), tc, *v))
                    .collect::<Res<Vec<Num>>>()?
            }
            (None, Some(n)) => {
                let n = self.range(n, 1, MAX_ARRAY, "size")?;
                vec![Self::num(tc, RawNum::Int(0)); n as usize]
            }
            _ => {
                return self.err(
                    a.name.span(),
                    "an [[array]] needs either init = [...] or size = N",
                );
            }
        };
        Ok(ResourceSpec::Array {
            name,
            typecode: tc,
            init,
            lock: a.lock,
            is_value: false,
        })
    }

    /// The `[manager]`: its objects, TCP address and authkey.
    fn manager(&mut self, m: &RawManager) -> Res<ResourceSpec> {
        let mut objects = Vec::new();
        if m.objects.len() > MAX_OBJECTS {
            return self.err(
                m.objects[MAX_OBJECTS].span(),
                format!("a manager holds at most {MAX_OBJECTS} objects"),
            );
        }
        for o in &m.objects {
            let object = self.manager_object(o)?;
            objects.push(object);
        }
        let tcp = match &m.tcp {
            Some(t) => {
                if t.get_ref().parse::<std::net::SocketAddr>().is_err() {
                    return self.err(
                        t.span(),
                        "tcp: expected HOST:PORT with a numeric host, e.g. \"127.0.0.1:0\"",
                    );
                }
                Some(t.get_ref().clone())
            }
            None => None,
        };
        let authkey = match &m.authkey {
            Some(k) if !(1..=32).contains(&k.get_ref().len()) => {
                return self.err(k.span(), "authkey: 1 to 32 bytes");
            }
            Some(k) => Some(k.get_ref().clone()),
            None => None,
        };
        Ok(ResourceSpec::Manager {
            name: "manager".into(),
            tcp,
            authkey,
            objects,
        })
    }

    /// One object of the `[manager]`: its kind and a first value that fits it.
    fn manager_object(
        &mut self,
        o: &Spanned<RawManagerObject>,
    ) -> Res<(String, ObjKind, Option<PyValue>)> {
        let o = o.get_ref();
        let kind = ObjKind::parse(o.kind.get_ref()).ok_or_else(|| {
            let known: Vec<&str> = ObjKind::ALL.iter().map(|k| k.name()).collect();
            ScenarioError::at(
                self.file,
                self.text,
                Some(o.kind.span()),
                format!(
                    "unknown manager object kind {:?} (expected one of {})",
                    o.kind.get_ref(),
                    known.join(", ")
                ),
            )
        })?;
        let init = match &o.init {
            Some(t) => Some(self.literal(&o.kind.span(), t)?),
            None => None,
        };
        let fits = matches!(
            (kind, &init),
            (_, None)
                | (ObjKind::Value, Some(_))
                | (ObjKind::Dict, Some(PyValue::Dict(_)))
                | (ObjKind::List, Some(PyValue::List(_) | PyValue::Tuple(_)))
        );
        if !fits {
            return self.err(
                o.kind.span(),
                format!(
                    "init: a manager {} cannot start from that value",
                    kind.name()
                ),
            );
        }
        let name = self.declare(&o.name, Kind::Proxy)?;
        Ok((name, kind, init))
    }
}
