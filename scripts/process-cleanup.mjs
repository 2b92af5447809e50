// What must not outlive this process. `wrangler dev` runs in its own process group (detached), so
// that wrangler and the workerd it starts can be stopped together — but a detached group also
// survives Ctrl-C of its parent, keeps the port and would answer the next `npm start`. So every group
// is registered the moment it is spawned, SIGINT / SIGTERM / SIGHUP stop every registered group and
// then exit, and the 'exit' event SIGKILLs whatever is still registered (process.exit, a crash).
import { spawn } from "node:child_process";

const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
const groups = new Set(); // pids of the group leaders still to stop
const exitTasks = new Set(); // synchronous cleanups for the 'exit' event (temporary files)
let installed = false;
let stopping = false;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {} // ESRCH: the group is gone already
}

function groupAlive(pid) {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

function install() {
  if (installed) return;
  installed = true;
  process.on("exit", () => {
    for (const pid of groups) signalGroup(pid, "SIGKILL");
    for (const task of exitTasks) {
      try {
        task();
      } catch {}
    }
  });
  for (const [signal, code] of Object.entries(SIGNAL_EXIT_CODES)) process.on(signal, () => void shutdown(code));
}

async function shutdown(code) {
  if (stopping) process.exit(code); // a second Ctrl-C: the 'exit' handler SIGKILLs the rest now
  stopping = true;
  if (groups.size) console.error("\nStopping…");
  await Promise.all([...groups].map((pid) => stopGroup(pid)));
  process.exit(code);
}

/** True once a signal started stopping everything (exits are expected from then on). */
export const shuttingDown = () => stopping;

/**
 * Spawns `command` as the leader of a new process group, registered for cleanup before this
 * returns (the signal and exit handlers are installed on first use). Refuses once a shutdown began.
 * @param {string} command
 * @param {string[]} args
 * @param {import("node:child_process").SpawnOptions} options
 * @returns {import("node:child_process").ChildProcess}
 */
export function spawnGroup(command, args, options = {}) {
  install();
  if (stopping) throw new Error("interrupted");
  const child = spawn(command, args, { ...options, detached: true });
  if (child.pid !== undefined) groups.add(child.pid);
  return child;
}

/**
 * Stops a group started by {@link spawnGroup}: SIGTERM to every process in it, SIGKILL to whatever
 * is left after `graceMs`, then waits (bounded) until the group is gone.
 * @param {number | undefined} pid
 * @param {number} [graceMs]
 */
export async function stopGroup(pid, graceMs = 2000) {
  if (pid === undefined || !groups.has(pid)) return;
  signalGroup(pid, "SIGTERM");
  for (const deadline = Date.now() + graceMs; groupAlive(pid) && Date.now() < deadline; ) await sleep(100);
  signalGroup(pid, "SIGKILL");
  for (const deadline = Date.now() + 1000; groupAlive(pid) && Date.now() < deadline; ) await sleep(50);
  groups.delete(pid);
}

/**
 * Runs `task` (synchronous) when this process exits, however it exits; returns a function that
 * cancels it (call it once the task was done normally).
 * @param {() => void} task
 * @returns {() => void}
 */
export function atExit(task) {
  install();
  exitTasks.add(task);
  return () => exitTasks.delete(task);
}
