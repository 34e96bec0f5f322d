//! The scenario file as written: serde shapes with spans, before any check.

use serde::Deserialize;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    pub scenario: RawHeader,
    pub pool: Option<RawPool>,
    pub task: Option<RawTask>,
    #[serde(default)]
    pub process: Vec<RawProcess>,
    #[serde(default)]
    pub queue: Vec<RawQueue>,
    #[serde(default)]
    pub pipe: Vec<RawPipe>,
    #[serde(default)]
    pub lock: Vec<RawLock>,
    #[serde(default)]
    pub semaphore: Vec<RawSemaphore>,
    #[serde(default)]
    pub event: Vec<RawNamed>,
    #[serde(default)]
    pub barrier: Vec<RawBarrier>,
    #[serde(default)]
    pub value: Vec<RawValue>,
    #[serde(default)]
    pub array: Vec<RawArray>,
    pub scaling: Option<RawScaling>,
    pub manager: Option<RawManager>,
    pub main: RawMain,
}

/// `[manager]`: a Manager server and the objects it holds from the start.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawManager {
    /// Also listen on TCP here (`127.0.0.1:0` picks a free port).
    pub tcp: Option<Spanned<String>>,
    /// The authkey remote clients give (1 to 32 bytes); default: random.
    pub authkey: Option<Spanned<String>>,
    #[serde(default)]
    pub objects: Vec<Spanned<RawManagerObject>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawManagerObject {
    pub name: Spanned<String>,
    pub kind: Spanned<String>,
    pub init: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyKeyValue {
    pub dict: String,
    pub key: String,
    pub value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterRace {
    pub manager_value: String,
    pub shared_value: String,
    pub times: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScaling {
    pub below: Spanned<i64>,
    pub chunks: Option<Spanned<i64>>,
    pub max_workers: Option<Spanned<i64>>,
    pub switch_interval_ms: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeader {
    pub title: Spanned<String>,
    pub explain: String,
    #[serde(default)]
    pub start_method: crate::runtime::board::StartMethod,
    /// `[scenario.fr]`: the title and explanation in French.
    pub fr: Option<RawText>,
}

/// A scenario's title and explanation in another language.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawText {
    pub title: String,
    pub explain: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPool {
    pub workers: Option<Spanned<i64>>,
    pub chunksize: Option<Spanned<i64>>,
    pub maxtasksperchild: Option<Spanned<i64>>,
    pub initializer: Option<Spanned<String>>,
    pub initargs: Option<Spanned<Vec<i64>>>,
    pub on_worker_death: Option<Spanned<String>>,
    pub retries: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTask {
    pub kind: Spanned<String>,
    pub below: Spanned<i64>,
    pub chunks: Spanned<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProcess {
    pub name: Spanned<String>,
    #[serde(default)]
    pub daemon: bool,
    pub count: Option<Spanned<i64>>,
    pub steps: Vec<Spanned<RawStep>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQueue {
    pub name: Spanned<String>,
    pub capacity: Option<Spanned<i64>>,
    pub max_message: Option<Spanned<i64>>,
    #[serde(default)]
    pub joinable: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPipe {
    pub name: Spanned<String>,
    #[serde(default = "yes")]
    pub duplex: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLock {
    pub name: Spanned<String>,
    #[serde(default)]
    pub recursive: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSemaphore {
    pub name: Spanned<String>,
    pub value: Spanned<i64>,
    #[serde(default)]
    pub bounded: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNamed {
    pub name: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBarrier {
    pub name: Spanned<String>,
    pub parties: Spanned<i64>,
}

/// A number as TOML writes it.
#[derive(Deserialize, Clone, Copy)]
#[serde(untagged)]
pub enum RawNum {
    Int(i64),
    Float(f64),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawValue {
    pub name: Spanned<String>,
    pub typecode: Spanned<String>,
    pub init: Spanned<RawNum>,
    #[serde(default = "yes")]
    pub lock: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawArray {
    pub name: Spanned<String>,
    pub typecode: Spanned<String>,
    pub init: Option<Spanned<Vec<RawNum>>>,
    pub size: Option<Spanned<i64>>,
    #[serde(default = "yes")]
    pub lock: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMain {
    pub steps: Vec<Spanned<RawStep>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueValue {
    pub queue: String,
    pub value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueMany {
    pub queue: String,
    pub count: i64,
    #[serde(default)]
    pub pace_ms: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipeValue {
    pub pipe: String,
    pub value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipeCount {
    pub pipe: String,
    pub count: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueTimes {
    pub value: String,
    pub times: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueTo {
    pub value: String,
    pub to: RawNum,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueExpected {
    pub value: String,
    pub expected: i64,
}

/// One task's arguments: `3` or `[0, 100]`.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
pub enum RawItem {
    One(i64),
    Tuple(Vec<i64>),
}

/// `{ pool = { call = "imap_unordered", func = "sleep", items = [300, 100] } }`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolCall {
    pub call: String,
    pub func: String,
    pub items: Option<Vec<RawItem>>,
    pub range: Option<Vec<i64>>,
    pub args: Option<Vec<i64>>,
    pub chunksize: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RawStep {
    Info(String),
    Print(String),
    SpinUs(i64),
    SleepMs(i64),
    PrimesBelow(i64),
    AllocMib(i64),
    Exit(i64),
    Put(QueueValue),
    Get(String),
    PutMany(QueueMany),
    GetMany(QueueMany),
    TaskDone(String),
    JoinQueue(String),
    Send(PipeValue),
    Recv(String),
    Ping(PipeCount),
    Pong(PipeCount),
    Acquire(String),
    Release(String),
    Increment(ValueTimes),
    SetValue(ValueTo),
    Negate(String),
    PrintValue(String),
    PrintArray(String),
    ReportCount(ValueExpected),
    Wait(String),
    Set(String),
    Clear(String),
    BarrierWait(String),
    Start(String),
    Join(String),
    Status(String),
    Terminate(String),
    Kill(String),
    PoolMap,
    Pool(PoolCall),
    DictSet(ProxyKeyValue),
    ListReverse(String),
    PrintProxy(String),
    CompareCounters(CounterRace),
}
