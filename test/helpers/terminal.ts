import {spawn, type ChildProcess} from 'node:child_process'

/**
 * Run a command in a real pseudo-terminal of `cols` x `rows`, through
 * python3's `pty` module (no native node dependency). What the command
 * writes to the terminal arrives on the child's stdout; bytes written to the
 * child's stdin are typed into the terminal (so "\x03" is a real Ctrl-C: the
 * line discipline sends SIGINT to the foreground process group). The child's
 * exit code is the command's.
 */
export function spawnInPty(argv: string[], opts: {cols?: number; rows?: number; env?: NodeJS.ProcessEnv} = {}): ChildProcess {
  const py = String.raw`
import fcntl, os, pty, select, struct, sys, termios
cols, rows, argv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
    os.execvp(argv[0], argv)
ins = [fd, 0]
while True:
    r, _, _ = select.select(ins, [], [], 1.0)
    if 0 in r:
        data = os.read(0, 1024)
        if data:
            os.write(fd, data)
        else:
            ins.remove(0)
    if fd in r:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b''
        if not data:
            break
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
`
  return spawn('python3', ['-c', py, String(opts.cols ?? 80), String(opts.rows ?? 24), ...argv], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
  })
}

/**
 * A small model of what a VT100-style terminal shows after a byte stream:
 * printable text, CR, LF, BS, the erase codes (EL `ESC[nK`, ED `ESC[nJ`),
 * cursor moves (`ESC[nG`, `ESC[nA/B/C/D`, `ESC[r;cH`), save/restore
 * (`ESC 7`/`ESC 8`), and the auto-wrap mode (`ESC[?7l` / `ESC[?7h`: with it
 * off, text past the right margin overwrites the last column, as xterm and
 * tmux do). Scrolled-off lines are kept, so `lines()` is the whole session.
 * Written for the tests because no terminal emulator is a dependency here;
 * anything it does not know (colours, other modes) is ignored.
 */
export class ScreenModel {
  private readonly buf: string[][] = [[]]
  private row = 0
  private col = 0
  private wrap = true
  /** The cursor is past the last column (a wrap is pending). */
  private pending = false
  private saved: {row: number; col: number} = {row: 0, col: 0}

  constructor(
    readonly cols = 80,
    readonly rows = 24,
  ) {}

  private get top(): number {
    return Math.max(0, this.buf.length - this.rows)
  }

  private line(r: number): string[] {
    while (this.buf.length <= r) this.buf.push([])
    return this.buf[r]
  }

  private newline(): void {
    this.row++
    this.line(this.row)
  }

  private put(ch: string): void {
    if (this.pending) {
      this.pending = false
      if (this.wrap) {
        this.newline()
        this.col = 0
      }
    }
    const l = this.line(this.row)
    while (l.length < this.col) l.push(' ')
    l[this.col] = ch
    if (this.col === this.cols - 1) this.pending = true
    else this.col++
  }

  write(text: string): this {
    let i = 0
    while (i < text.length) {
      const ch = text[i]
      if (ch === '\x1b') {
        const next = text[i + 1]
        if (next === '[') {
          const m = /^\x1b\[([?]?)([\d;]*)([A-Za-z@])/.exec(text.slice(i, i + 32))
          if (!m) {
            i++
            continue
          }
          this.csi(m[1], m[2], m[3])
          i += m[0].length
          continue
        }
        if (next === '7') this.saved = {row: this.row - this.top, col: this.col}
        if (next === '8') {
          this.row = this.top + this.saved.row
          this.col = this.saved.col
          this.pending = false
        }
        i += 2
        continue
      }
      if (ch === '\r') {
        this.col = 0
        this.pending = false
      } else if (ch === '\n') {
        if (this.row === this.buf.length - 1) this.newline()
        else this.row++
        this.pending = false
      } else if (ch === '\b') {
        if (this.col > 0) this.col--
        this.pending = false
      } else if (ch >= ' ' || ch > '\x7f') {
        this.put(ch)
      }
      i++
    }
    return this
  }

  private csi(priv: string, params: string, final: string): void {
    const nums = params.split(';').map((p) => (p === '' ? undefined : Number(p)))
    const n = nums[0] ?? 1
    if (priv === '?') {
      if (params === '7') this.wrap = final === 'h'
      return
    }
    const l = this.line(this.row)
    switch (final) {
      case 'G':
        this.col = Math.min(this.cols - 1, n - 1)
        break
      case 'A':
        this.row = Math.max(this.top, this.row - n)
        break
      case 'B':
        this.row = Math.min(this.buf.length - 1, this.row + n)
        break
      case 'C':
        this.col = Math.min(this.cols - 1, this.col + n)
        break
      case 'D':
        this.col = Math.max(0, this.col - n)
        break
      case 'H':
        this.row = this.top + (nums[0] ?? 1) - 1
        this.line(this.row)
        this.col = (nums[1] ?? 1) - 1
        break
      case 'K': {
        const mode = nums[0] ?? 0
        if (mode === 0) l.length = Math.min(l.length, this.col)
        else if (mode === 1) for (let c = 0; c <= this.col && c < l.length; c++) l[c] = ' '
        else l.length = 0
        break
      }
      case 'J': {
        const mode = nums[0] ?? 0
        if (mode === 0) {
          l.length = Math.min(l.length, this.col)
          this.buf.length = this.row + 1
        }
        break
      }
      default:
        break
    }
    this.pending = false
  }

  /** Every line of the session, trailing spaces removed. */
  lines(): string[] {
    const out = this.buf.map((l) => l.join('').replace(/\s+$/, ''))
    while (out.length > 0 && out.at(-1) === '') out.pop()
    return out
  }
}
