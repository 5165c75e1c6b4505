// Charts with uPlot: small (about 50 KB), fast on thousands of points, no dependencies (docs/console.md).
import uPlot from 'uplot'

export interface LineSeries {
  label: string
  values: (number | null)[]
  colour?: string
  dash?: number[]
  points?: boolean
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2']

/**
 * A time chart in the factory's time zone. `onZoom` gets the selected window
 * (ms) so the page can ask the API again for that window at the pixels shown.
 */
export function timeChart(target: HTMLElement, opts: { title: string; xsMs: number[]; rangeMs?: [number, number]; syncKey?: string; series: LineSeries[]; timeZone: string; width: number; height?: number; onZoom?: (startMs: number, endMs: number) => void; marks?: { index: number; label: string }[] }): uPlot {
  const marks = opts.marks ?? []
  const markSet = new Set(marks.map((m) => m.index))
  const chart = new uPlot(
    {
      title: opts.title,
      width: opts.width,
      height: opts.height ?? 260,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), opts.timeZone),
      // 24-hour clock, as on the shop floor.
      fmtDate: (tpl) => uPlot.fmtDate(tpl.replace(/\{h\}/g, '{HH}').replace(/\{aa\}/g, '')),
      cursor: { drag: { x: true, y: false, setScale: false }, ...(opts.syncKey ? { sync: { key: opts.syncKey } } : {}) },
      // The whole requested window, so a machine that only just started reporting shows where its data begins.
      // Room for values like 150894 or 24.9968 on the y axis.
      axes: [{}, { size: 70 }],
      scales: { x: { time: true, ...(opts.rangeMs ? { range: [opts.rangeMs[0] / 1000, opts.rangeMs[1] / 1000] as uPlot.Range.MinMax } : {}) } },
      series: [
        {},
        ...opts.series.map((s, i) => ({
          label: s.label,
          stroke: s.colour ?? PALETTE[i % PALETTE.length],
          width: 1.5,
          dash: s.dash,
          spanGaps: s.dash !== undefined,
          points: s.points ? { show: true, size: 5 } : { show: false },
        })),
      ],
      hooks: {
        setSelect: [
          (u) => {
            if (!opts.onZoom || u.select.width < 5) return
            const a = u.posToVal(u.select.left, 'x')
            const b = u.posToVal(u.select.left + u.select.width, 'x')
            opts.onZoom(Math.round(a * 1000), Math.round(b * 1000))
          },
        ],
        draw: [
          // Points that complete a rule violation, ringed in red (docs/console.md, quality page).
          (u) => {
            if (markSet.size === 0) return
            const ctx = u.ctx
            ctx.save()
            ctx.strokeStyle = '#d0302f'
            ctx.lineWidth = 2
            for (const i of markSet) {
              const x = u.data[0][i]
              const y = u.data[1]?.[i]
              if (x === undefined || y === undefined || y === null) continue
              ctx.beginPath()
              ctx.arc(u.valToPos(x, 'x', true), u.valToPos(y, 'y', true), 8, 0, 2 * Math.PI)
              ctx.stroke()
            }
            ctx.restore()
          },
        ],
      },
    },
    [opts.xsMs.map((t) => t / 1000), ...opts.series.map((s) => s.values)],
    target,
  )
  return chart
}
