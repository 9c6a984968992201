/**
 * Preloaded (`--import`) into the room a rehearsal starts: the room ends with its parent, the
 * simulator. The parent holds the write end of the room's stdin; when it closes (the parent
 * stopping the room, or dying however it dies), the room is asked to stop as at Ctrl-C, and
 * made to if it has not within 15 s. Its own helpers (Lambda hosts, the queue's process) end
 * with it.
 */
process.stdin.on('end', () => {
  process.kill(process.pid, 'SIGTERM');
  setTimeout(() => process.exit(1), 15_000).unref();
});
process.stdin.resume();
