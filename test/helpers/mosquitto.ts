// One starter for the tests and the scaleout bench (which cannot import test helpers).
export { startTestMosquitto, type TestMosquitto } from '../../bench/lib/mosquitto.js'
