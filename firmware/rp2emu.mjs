// firmware/rp2emu.mjs: an RP2040 running a MicroPython firmware image in the rp2040js emulator.
// MIT licence; part of ws2 for MicroPython.
//
//   node firmware/rp2emu.mjs --bootrom ROM.bin --image firmware.uf2 [--flash flash.bin] [--flash-size BYTES]
//
// The board's USB CDC console is this process's stdin/stdout, byte for byte;
// everything else (emulator warnings, our own notes) goes to stderr, so the
// serial stream carries only what the firmware sends. The Python side
// (firmware/emuboard.py) puts a pseudo-terminal in front of it.
//
// What the emulator lacks and this script adds:
// - a UF2 (or raw .bin) loader, and flash kept in a file;
// - the flash erase/program ROM calls: the bootrom's routines drive the QSPI
//   flash chip, which rp2040js does not emulate, so their entries are replaced
//   by breakpoints that do the work on the flash array and return;
// - flow control: the CDC helper's 512-byte receive FIFO drops what overflows,
//   so input is queued here and fed as the FIFO drains; stdin is paused while
//   the queue is long, which backs up the pipe and the pty up to the writer;
// - input typed before USB enumeration is held until the host side is up;
// - idle pacing: a CPU asleep (WFI/WFE) for longer than a few milliseconds
//   sleeps in real time, so an idle board costs next to no host CPU.
import fs from 'node:fs';
import { RP2040, USBCDC } from 'rp2040js';

const FLASH_BASE = 0x10000000;
const UF2_MAGIC0 = 0x0a324655;
const UF2_MAGIC1 = 0x9e5d5157;
const UF2_MAGIC_END = 0x0ab16f30;
const UF2_NOT_MAIN_FLASH = 0x1;
const CDC_FIFO = 512;
const QUEUE_HIGH = 8192; // queued input bytes at which stdin is paused
const SLICE = 20000; // instructions per run slice before input and output are served (~2 ms)
const CYCLE_NS = 1e9 / 125e6;
const BKPT_ERASE = 0xe0;
const BKPT_PROGRAM = 0xe1;

function note(msg) {
  process.stderr.write('rp2emu: ' + msg + '\n');
}

function args(argv) {
  const out = {};
  for (let i = 2; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) {
      throw new Error('usage: rp2emu.mjs --bootrom FILE --image FILE [--flash FILE] [--flash-size BYTES]');
    }
    out[argv[i].slice(2)] = argv[i + 1];
  }
  if (!out.bootrom || !out.image) throw new Error('--bootrom and --image are required');
  return out;
}

// A UF2 file is 512-byte blocks, each with a target address and up to 476 payload bytes.
function loadImage(path, flash) {
  const data = fs.readFileSync(path);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.length >= 512 && view.getUint32(0, true) === UF2_MAGIC0) {
    let blocks = 0;
    for (let off = 0; off + 512 <= data.length; off += 512) {
      if (view.getUint32(off, true) !== UF2_MAGIC0 || view.getUint32(off + 4, true) !== UF2_MAGIC1 ||
          view.getUint32(off + 508, true) !== UF2_MAGIC_END) {
        throw new Error(`${path}: block ${off / 512} is not a UF2 block`);
      }
      if (view.getUint32(off + 8, true) & UF2_NOT_MAIN_FLASH) continue;
      const addr = view.getUint32(off + 12, true) - FLASH_BASE;
      const size = view.getUint32(off + 16, true);
      if (addr < 0 || size > 476 || addr + size > flash.length) {
        throw new Error(`${path}: block ${off / 512} targets 0x${(addr + FLASH_BASE).toString(16)}, outside the flash`);
      }
      flash.set(data.subarray(off + 32, off + 32 + size), addr);
      blocks++;
    }
    if (!blocks) throw new Error(`${path}: no UF2 block for the flash`);
    return;
  }
  if (data.length > flash.length) throw new Error(`${path}: ${data.length} bytes, larger than the flash`);
  flash.set(data, 0); // a .bin image starts at the flash's first byte
}

// The bootrom's function table: u16 pointer at 0x14 to (u16 code, u16 address) pairs.
function romFunction(rom8, a, b) {
  const code = a.charCodeAt(0) | (b.charCodeAt(0) << 8);
  let p = rom8[0x14] | (rom8[0x15] << 8);
  for (;;) {
    const c = rom8[p] | (rom8[p + 1] << 8);
    if (!c) throw new Error(`bootrom has no function ${a}${b}`);
    if (c === code) return rom8[p + 2] | (rom8[p + 3] << 8);
    p += 4;
  }
}

function patchRom(rom, addr, halfword) {
  const word = addr >> 2;
  const shift = (addr & 2) * 8;
  rom[word] = ((rom[word] & ~(0xffff << shift)) | (halfword << shift)) >>> 0;
}

function main() {
  const opt = args(process.argv);
  const romBytes = fs.readFileSync(opt.bootrom);
  if (romBytes.length !== 16384) throw new Error(`${opt.bootrom}: ${romBytes.length} bytes, an RP2040 bootrom is 16384`);
  const rom = new Uint32Array(4096);
  for (let i = 0; i < 4096; i++) rom[i] = romBytes.readUInt32LE(i * 4);
  const rom8 = new Uint8Array(romBytes);
  const BX_LR = 0x4770;
  // The QSPI set-up calls return at once (no flash chip to talk to); erase and
  // program stop at a breakpoint that does the work.
  for (const name of ['IF', 'EX', 'FC', 'CX']) patchRom(rom, romFunction(rom8, name[0], name[1]), BX_LR);
  patchRom(rom, romFunction(rom8, 'R', 'E'), 0xbe00 | BKPT_ERASE);
  patchRom(rom, romFunction(rom8, 'R', 'P'), 0xbe00 | BKPT_PROGRAM);

  const mcu = new RP2040();
  mcu.logger = {
    debug() {},
    info() {},
    warn(component, msg) { if (process.env.RP2EMU_DEBUG) note(`[${component}] ${msg}`); },
    error(component, msg) {
      // On the chip this is a HardFault; the board stops here.
      note(`[${component}] ${msg} (pc=0x${(mcu.core.PC >>> 0).toString(16)}); the board stopped`);
      finish(3);
    },
  };
  mcu.loadBootrom(rom);
  const flash = mcu.flash;
  // The board's flash (rp2040js maps 16 MiB; a Pico W has 2 MiB) lives in a
  // file: each erase or program is written through at once, so what the
  // firmware wrote survives the process being killed, as it survives a power cut.
  const flashSize = Math.min(flash.length, Number(opt['flash-size'] || 2 * 1024 * 1024));
  let flashFd = null;
  if (opt.flash) {
    if (fs.existsSync(opt.flash)) {
      const saved = fs.readFileSync(opt.flash);
      flash.set(saved.subarray(0, flashSize));
    }
    loadImage(opt.image, flash);
    flashFd = fs.openSync(opt.flash, fs.existsSync(opt.flash) ? 'r+' : 'w+');
    fs.writeSync(flashFd, flash, 0, flashSize, 0);
  } else {
    loadImage(opt.image, flash);
  }
  function flashChanged(offs, count) {
    if (flashFd === null || offs >= flashSize) return;
    fs.writeSync(flashFd, flash, offs, Math.min(count, flashSize - offs), offs);
  }

  // Start where the bootrom hands over on a flash boot: the image's boot2 stage at the flash's first
  // byte (the bootrom's own start-up waits on hardware rp2040js does not model).
  mcu.core.PC = FLASH_BASE;

  const core = mcu.core;
  mcu.onBreak = (code) => {
    const r = core.registers;
    if (code === BKPT_ERASE) { // flash_range_erase(offs, count, block_size, block_cmd)
      const offs = r[0] >>> 0, count = r[1] >>> 0;
      if (offs + count <= flash.length) flash.fill(0xff, offs, offs + count);
      flashChanged(offs, count);
    } else if (code === BKPT_PROGRAM) { // flash_range_program(offs, data, count): NOR bits only clear
      const offs = r[0] >>> 0, src = r[1] >>> 0, count = r[2] >>> 0;
      for (let i = 0; i < count && offs + i < flash.length; i++) flash[offs + i] &= mcu.readUint8(src + i);
      flashChanged(offs, count);
    } else {
      note(`breakpoint ${code} at pc=0x${((core.PC - 2) >>> 0).toString(16)}; the board stopped`);
      finish(3);
      return;
    }
    core.PC = r[14] & ~1; // return to the caller (bx lr)
  };

  // -- the USB console ---------------------------------------------------------------
  const cdc = new USBCDC(mcu.usbCtrl);
  let connected = false;
  let queue = [];
  let queued = 0;
  let pendingRead = null; // an OUT transfer the firmware armed while we had nothing to send
  let paused = false;
  cdc.onDeviceConnected = () => {
    connected = true;
    note('usb connected'); // the parent waits for this line: the console is up

    feed();
  };
  const TRACE = process.env.RP2EMU_TRACE;
  cdc.onSerialData = (buf) => {
    if (TRACE) note(`t=${(wallNanos()/1e6).toFixed(1)} sim=${(clock.nanos/1e6).toFixed(1)} out ${buf.length}`);
    process.stdout.write(Buffer.from(buf));
  };
  // The helper answers every armed OUT transfer at once, with zero bytes when
  // nothing is queued, and the firmware re-arms it straight away: a busy loop.
  // Keep the transfer open instead until there is input, as a USB host does.
  mcu.usbCtrl.onEndpointRead = (endpoint, size) => {
    pendingRead = [endpoint, size];
    if (TRACE) note(`t=${(wallNanos()/1e6).toFixed(1)} sim=${(clock.nanos/1e6).toFixed(1)} arm ${size} fifo=${cdc.txFIFO.itemCount} q=${queued}`);
    feed();
  };
  function answerRead() {
    if (!pendingRead || cdc.txFIFO.empty) return;
    const [endpoint, size] = pendingRead;
    pendingRead = null;
    const buf = new Uint8Array(Math.min(size, cdc.txFIFO.itemCount));
    for (let i = 0; i < buf.length; i++) buf[i] = cdc.txFIFO.pull();
    mcu.usbCtrl.endpointReadDone(endpoint, buf);
  }
  function feed() {
    if (!connected) return;
    while (queue.length && cdc.txFIFO.itemCount < CDC_FIFO) {
      const head = queue[0];
      const n = Math.min(head.length, CDC_FIFO - cdc.txFIFO.itemCount);
      for (let i = 0; i < n; i++) cdc.sendSerialByte(head[i]);
      queued -= n;
      if (n === head.length) queue.shift();
      else queue[0] = head.subarray(n);
    }
    answerRead();
    if (paused && queued < QUEUE_HIGH / 2) {
      paused = false;
      process.stdin.resume();
    }
  }
  process.stdin.on('data', (chunk) => {
    if (TRACE) note(`t=${(wallNanos()/1e6).toFixed(1)} sim=${(clock.nanos/1e6).toFixed(1)} in ${chunk.length} sleeping=${!!idleSince}`);
    queue.push(chunk);
    queued += chunk.length;
    if (queued >= QUEUE_HIGH && !paused) {
      paused = true;
      process.stdin.pause();
    }
    feed();
    wake();
  });
  process.stdin.on('end', () => finish(0));

  // -- running ---------------------------------------------------------------------------
  // A CPU asleep (WFI/WFE) until a moment at most IDLE_NS away skips to it at
  // once, as rp2040js's own loop does (USB transfers, short polls: the board
  // runs flat out). A longer sleep, or one with no alarm at all, is an idle
  // board: that time passes in real time, costing the host no CPU, and input
  // wakes it early. So time.sleep() takes real time and an idle REPL is cheap.
  const IDLE_NS = 5e6;
  const clock = mcu.clock;
  let timer = null; // the next run: a setImmediate, or a setTimeout while idle
  let idleSince = 0n; // hrtime when an idle sleep began, 0n when not idle
  let idleFor = 0; // emulated nanoseconds that sleep may last
  let stopped = false;
  function wallNanos() {
    return Number(process.hrtime.bigint());
  }
  function endIdle() {
    // The emulated clock moves on by the real time slept, up to the alarm that ends the sleep.
    const slept = Number(process.hrtime.bigint() - idleSince);
    idleSince = 0n;
    clock.tick(Math.min(slept, idleFor));
  }
  function run() {
    timer = null;
    if (idleSince) endIdle();
    for (let i = 0; i < SLICE && !stopped; i++) {
      if (core.waiting) {
        const step = clock.nextAlarm ? clock.nanosToNextAlarm : Infinity;
        if (step > IDLE_NS) {
          idleSince = process.hrtime.bigint();
          idleFor = step;
          timer = setTimeout(run, Math.min(step / 1e6, 50));
          return;
        }
        clock.tick(step);
        i += step / CYCLE_NS;
      } else {
        clock.tick(core.executeInstruction() * CYCLE_NS);
      }
    }
    if (stopped) return;
    feed();
    timer = setImmediate(run);
  }
  function wake() {
    if (idleSince && !stopped) {
      clearTimeout(timer);
      timer = setImmediate(run);
    }
  }
  function finish(code) {
    if (stopped) return;
    stopped = true;
    if (flashFd !== null) fs.closeSync(flashFd);
    process.stdout.write('', () => process.exit(code));
  }
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => finish(0));
  run();
}

try {
  main();
} catch (e) {
  note(e.message);
  process.exit(2);
}
