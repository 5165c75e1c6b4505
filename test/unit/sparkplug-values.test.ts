import { describe, expect, it } from 'vitest'
import { DataType, decodeArray, metricValue } from '../../src/sparkplug/values.js'

const le = (bytes: number, write: (b: Buffer) => void) => {
  const b = Buffer.alloc(bytes)
  write(b)
  return b
}

describe('Sparkplug values', () => {
  it('decodes every 3.0 array type from little-endian bytes', () => {
    expect(decodeArray(DataType.Int8Array, Buffer.from([0x80, 0x7f]))).toEqual([-128, 127])
    expect(decodeArray(DataType.UInt8Array, Buffer.from([0xff]))).toEqual([255])
    expect(decodeArray(DataType.Int32Array, le(4, (b) => b.writeInt32LE(-7)))).toEqual([-7])
    expect(decodeArray(DataType.UInt32Array, le(4, (b) => b.writeUInt32LE(4_000_000_000)))).toEqual([4_000_000_000])
    expect(decodeArray(DataType.Int64Array, le(16, (b) => { b.writeBigInt64LE(-5n); b.writeBigInt64LE(-(2n ** 62n), 8) }))).toEqual([-5, -(2n ** 62n)])
    expect(decodeArray(DataType.UInt64Array, le(8, (b) => b.writeBigUInt64LE(2n ** 64n - 1n)))).toEqual([2n ** 64n - 1n])
    expect(decodeArray(DataType.FloatArray, le(4, (b) => b.writeFloatLE(1.5)))).toEqual([1.5])
    expect(decodeArray(DataType.DoubleArray, le(8, (b) => b.writeDoubleLE(0.1)))).toEqual([0.1])
    expect(decodeArray(DataType.DateTimeArray, le(8, (b) => b.writeBigInt64LE(1_760_000_000_000n)))).toEqual([1_760_000_000_000])
    expect(decodeArray(DataType.StringArray, Buffer.from('ab\u0000\u0000cé\u0000'))).toEqual(['ab', '', 'cé'])
    expect(decodeArray(DataType.BooleanArray, Buffer.from([9, 0, 0, 0, 0b1000_0001, 0b1000_0000]))).toEqual([true, false, false, false, false, false, false, true, true])
  })

  it('an array whose bytes do not fit its type is bad_array, never an exception', () => {
    for (const [datatype, bytes] of [[DataType.Int32Array, [1, 2, 3]], [DataType.StringArray, [0x61]], [DataType.BooleanArray, [8, 0, 0, 0]], [DataType.BooleanArray, [1]]] as const) {
      expect(metricValue(datatype, { name: 'a', value: 'bytesValue', bytesValue: Buffer.from(bytes) })).toMatchObject({ ok: false, reason: 'bad_array' })
    }
  })

  it('integers: both sign conventions, ranges, and the 64-bit types exact', () => {
    const int = (datatype: number, intValue: number) => metricValue(datatype, { name: 'i', value: 'intValue', intValue })
    const long = (datatype: number, longValue: bigint) => metricValue(datatype, { name: 'l', value: 'longValue', longValue })
    expect(int(DataType.Int8, 0xffffff80)).toEqual({ ok: true, value: -128 })
    expect(int(DataType.Int8, 0x80)).toEqual({ ok: true, value: -128 })
    expect(int(DataType.Int16, 0xffff8000)).toEqual({ ok: true, value: -32768 })
    expect(int(DataType.UInt8, 256)).toMatchObject({ ok: false, reason: 'value_out_of_range' })
    expect(int(DataType.Int8, 0x1ff)).toMatchObject({ ok: false, reason: 'value_out_of_range' })
    expect(long(DataType.UInt32, 2n ** 32n)).toMatchObject({ ok: false, reason: 'value_out_of_range' })
    expect(long(DataType.Int64, 2n ** 64n - 1n)).toEqual({ ok: true, value: -1 })
    expect(long(DataType.UInt64, 2n ** 53n + 1n)).toEqual({ ok: true, value: 2n ** 53n + 1n })
    expect(metricValue(DataType.Double, { name: 'd', value: 'doubleValue', doubleValue: Number.NaN })).toMatchObject({ ok: false, reason: 'non_finite_number' })
    expect(metricValue(DataType.DataSet, { name: 'ds', value: 'datasetValue', datasetValue: {} })).toMatchObject({ ok: false, reason: 'unsupported_datatype' })
  })
})
