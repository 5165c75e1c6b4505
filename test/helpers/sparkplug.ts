import { testRegistry } from './fixtures.js'

/**
 * The test registry with a Sparkplug group: group "plant-a" is factory fa; edge node "edge-1"
 * connects as gateway gw-a and is machine l1/m2 itself; its device "press-1" is machine l1/m1.
 * The mapping names a state metric, counters, cycle time and an inspection.
 */
export async function sparkplugRegistry(): Promise<Record<string, unknown>> {
  const reg = await testRegistry()
  return {
    ...reg,
    sparkplug: {
      groups: [
        {
          id: 'plant-a',
          factory: 'fa',
          edgeNodes: [{ id: 'edge-1', gateway: 'gw-a', line: 'l1', machine: 'm2', devices: [{ id: 'press-1', line: 'l1', machine: 'm1' }] }],
          mapping: {
            state: { metric: 'Status/Mode', values: { '1': { state: 'running' }, '2': { state: 'idle' }, '3': { state: 'fault', reasonCode: 'E-STOP' } }, reasonMetric: 'Status/Reason' },
            goodCount: 'Counts/Good',
            rejectCount: 'Counts/Reject',
            cycleTime: 'Cycle/Time',
            inspections: [{ metric: 'Quality/Bore', characteristic: 'bore-diameter', lsl: 9.9, usl: 10.1, unit: 'mm' }],
          },
        },
      ],
    },
  }
}

/** Sparkplug datatype numbers used by the tests. */
export const DT = { Int8: 1, Int32: 3, Int64: 4, UInt64: 8, Float: 9, Double: 10, Boolean: 11, String: 12, DateTime: 13, Int16Array: 23, BooleanArray: 32, StringArray: 33, Template: 19, DataSet: 16, Bytes: 17 } as const
