//! One lane per sender: a sender's transactions are admitted one at a time,
//! lowest nonce first, while different senders' lanes run side by side.
//! A lane only admits (sends or hands back); confirmations run on their own.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use mpc_evm::Address;
use tokio::sync::mpsc;

use crate::job::{Job, Worker};

/// A lane with nothing to do for this long ends (a sender may never come back).
const LANE_IDLE: Duration = Duration::from_secs(60);

pub struct Lanes {
    worker: Arc<Worker>,
    lanes: HashMap<Address, mpsc::UnboundedSender<Job>>,
}

impl Lanes {
    pub fn new(worker: Arc<Worker>) -> Self {
        Lanes {
            worker,
            lanes: HashMap::new(),
        }
    }

    /// Hands the job to its sender's lane, starting one if there is none
    /// (or it ended while idle).
    pub fn dispatch(&mut self, job: Job) {
        let from = job.tx.from;
        let job = match self.lanes.get(&from) {
            Some(lane) => match lane.send(job) {
                Ok(()) => return,
                Err(mpsc::error::SendError(job)) => job,
            },
            None => job,
        };
        self.lanes.retain(|_, lane| !lane.is_closed());
        let (lane, jobs) = mpsc::unbounded_channel();
        lane.send(job).expect("the receiver is alive");
        tokio::spawn(run_lane(jobs, self.worker.clone()));
        self.lanes.insert(from, lane);
    }
}

async fn run_lane(mut jobs: mpsc::UnboundedReceiver<Job>, worker: Arc<Worker>) {
    // Keyed by (nonce, stream sequence): two transactions may share a nonce.
    let mut held: BTreeMap<(u64, u64), Job> = BTreeMap::new();
    let hold = |held: &mut BTreeMap<(u64, u64), Job>, job: Job| {
        let sequence = job.message.info().map_or(0, |info| info.stream_sequence);
        held.insert((job.tx.nonce, sequence), job);
    };
    loop {
        while let Ok(job) = jobs.try_recv() {
            hold(&mut held, job);
        }
        if let Some((_, job)) = held.pop_first() {
            worker.admit(job).await;
            continue;
        }
        match tokio::time::timeout(LANE_IDLE, jobs.recv()).await {
            Ok(Some(job)) => hold(&mut held, job),
            Ok(None) => return,
            // Closed, new jobs go to a new lane; those already sent here
            // are still received, then `recv` ends the lane.
            Err(_) => jobs.close(),
        }
    }
}
