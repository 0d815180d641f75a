package dev.streamscore.pipeline.features;

import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@link KeyState} to bytes and back, for keyed state, compactly: a version byte, the fingerprint
 * of the aggregates and features it was written for, then the state's numbers (whole numbers as
 * variable-length integers, the ring's times as differences) and values (each object column's
 * distinct values once, then an index per event). State written for other aggregates or features
 * (the file changed between two runs) reads as {@code null}: that key starts afresh rather than
 * reading one aggregate's values as another's, or serving a re-send a row of other features.
 *
 * <p>Not thread-safe: one instance per subtask (it reuses its buffer).
 */
public final class KeyStateCodec implements Serializable {

    private static final long serialVersionUID = 2L;
    private static final byte VERSION = 2;

    private static final byte EXCLUDED = 0;
    private static final byte NULL = 1;
    private static final byte STRING = 2;
    private static final byte LONG = 3;
    private static final byte DOUBLE = 4;
    private static final byte TRUE = 5;
    private static final byte FALSE = 6;

    private final StateLayout layout;
    private final long fingerprint;
    private transient Out out;

    /**
     * @param fingerprintLines everything the state's meaning depends on (each aggregate in full,
     *     the features): the state's fingerprint
     */
    public KeyStateCodec(StateLayout layout, List<String> fingerprintLines) {
        this.layout = layout;
        long h = 1125899906842597L;
        for (String line : fingerprintLines) {
            h = 31 * h + KeyState.idHash(line);
        }
        for (String line : layout.describe()) {
            h = 31 * h + KeyState.idHash(line);
        }
        fingerprint = h;
    }

    public byte[] encode(KeyState s) {
        if (out == null) {
            out = new Out();
        }
        Out o = out;
        o.pos = 0;
        o.ensure(64);
        o.buf[o.pos++] = VERSION;
        o.putLong(fingerprint);
        o.putVarLong(s.received);
        o.putLong(s.newest);
        o.putLong(s.evictedUntil);
        int n = layout.aggregates();
        for (int a = 0; a < n; a++) {
            o.putDouble(s.runCount[a]);
            o.putDouble(s.runSum[a]);
            o.putDouble(s.runMean[a]);
            o.putDouble(s.evNum[a]);
            o.putLong(s.evTime[a]);
            o.putValue(s.evObj[a]);
            Set<Object> distinct = s.evDistinct[a];
            o.putVarLong(distinct == null ? 0 : distinct.size());
            if (distinct != null) {
                for (Object v : distinct) {
                    o.putValue(v);
                }
            }
        }
        o.putVarLong(s.size);
        long previous = 0;
        for (int i = 0; i < s.size; i++) {
            o.putVarLong(zigzag(s.times[i] - previous));
            previous = s.times[i];
        }
        for (int c = 0; c < layout.columns(); c++) {
            if (layout.numeric(c)) {
                putNumbers(o, s.num[c], s.size);
            } else {
                putObjects(o, s.obj[c], s.size);
            }
        }
        o.putVarLong(s.seenSize);
        for (int i = 0; i < s.seenSize; i++) {
            o.putLong(s.seenIds[i]);
            o.putVarLong(zigzag(s.seenTimes[i]));
            float[] f = s.seenFeatures[i];
            o.putVarLong(f.length);
            o.ensure(4 * f.length);
            for (float v : f) {
                o.putInt(Float.floatToRawIntBits(v));
            }
        }
        o.putVarLong(zigzag(s.spilledUntil));
        return Arrays.copyOf(o.buf, o.pos);
    }

    /** A numeric column: whole numbers as variable-length integers (0 for "not counted"). */
    private static void putNumbers(Out o, double[] values, int size) {
        boolean whole = true;
        for (int i = 0; i < size && whole; i++) {
            double v = values[i];
            whole = Double.isNaN(v) || (v == Math.rint(v) && Math.abs(v) < 0x1p52);
        }
        o.ensure(1);
        o.buf[o.pos++] = (byte) (whole ? 1 : 0);
        for (int i = 0; i < size; i++) {
            double v = values[i];
            if (!whole) {
                o.putDouble(v);
            } else {
                o.putVarLong(Double.isNaN(v) ? 0 : zigzag((long) v) + 1);
            }
        }
    }

    /** An object column: its distinct values once, then one index per event. */
    private static void putObjects(Out o, Object[] values, int size) {
        // Few distinct values as a rule (a card's countries): a linear search beats a map.
        Object[] distinct = new Object[Math.min(size, 16)];
        int count = 0;
        int[] at = new int[size];
        Map<Object, Integer> index = null;
        for (int i = 0; i < size; i++) {
            Object v = values[i];
            int k = -1;
            if (index == null) {
                for (int j = 0; j < count; j++) {
                    Object d = distinct[j];
                    if (d == v || (d != null && d != KeyState.EXCLUDED && d.equals(v))) {
                        k = j;
                        break;
                    }
                }
                if (k < 0 && count == distinct.length && size > distinct.length) {
                    index = new HashMap<>();
                    for (int j = 0; j < count; j++) {
                        index.put(key(distinct[j]), j);
                    }
                }
            }
            if (index != null) {
                Integer found = index.get(key(v));
                k = found == null ? -1 : found;
            }
            if (k < 0) {
                if (count == distinct.length) {
                    distinct = Arrays.copyOf(distinct, Math.max(4, count * 2));
                }
                k = count;
                distinct[count++] = v;
                if (index != null) {
                    index.put(key(v), k);
                }
            }
            at[i] = k;
        }
        o.putVarLong(count);
        for (int j = 0; j < count; j++) {
            o.putValue(distinct[j]);
        }
        for (int i = 0; i < size; i++) {
            o.putVarLong(at[i]);
        }
    }

    private static Object key(Object v) {
        return v == KeyState.EXCLUDED ? ExcludedKey.INSTANCE : v == null ? NullKey.INSTANCE : v;
    }

    private enum ExcludedKey {
        INSTANCE
    }

    private enum NullKey {
        INSTANCE
    }

    /** The state in {@code bytes}, or {@code null} if they were written for another file. */
    public KeyState decode(byte[] bytes) {
        In in = new In(bytes);
        try {
            if (in.get() != VERSION || in.getLong() != fingerprint) {
                return null;
            }
            int n = layout.aggregates();
            KeyState s = new KeyState(n, layout.columns());
            s.received = in.getVarLong();
            s.newest = in.getLong();
            s.evictedUntil = in.getLong();
            for (int a = 0; a < n; a++) {
                s.runCount[a] = in.getDouble();
                s.runSum[a] = in.getDouble();
                s.runMean[a] = in.getDouble();
                s.evNum[a] = in.getDouble();
                s.evTime[a] = in.getLong();
                s.evObj[a] = in.getValue();
                int d = in.getCount();
                if (d > 0) {
                    Set<Object> set = new HashSet<>();
                    for (int i = 0; i < d; i++) {
                        set.add(in.getValue());
                    }
                    s.evDistinct[a] = set;
                }
            }
            int size = in.getCount();
            int capacity = Math.max(4, size);
            s.size = size;
            s.times = new long[capacity];
            long previous = 0;
            for (int i = 0; i < size; i++) {
                previous += unzigzag(in.getVarLong());
                s.times[i] = previous;
            }
            for (int c = 0; c < layout.columns(); c++) {
                if (layout.numeric(c)) {
                    double[] col = new double[capacity];
                    boolean whole = in.get() == 1;
                    for (int i = 0; i < size; i++) {
                        if (whole) {
                            long v = in.getVarLong();
                            col[i] = v == 0 ? Double.NaN : unzigzag(v - 1);
                        } else {
                            col[i] = in.getDouble();
                        }
                    }
                    s.num[c] = col;
                } else {
                    int d = in.getCount();
                    Object[] distinct = new Object[d];
                    for (int i = 0; i < d; i++) {
                        distinct[i] = in.getValue();
                    }
                    Object[] col = new Object[capacity];
                    for (int i = 0; i < size; i++) {
                        col[i] = distinct[(int) in.getVarLong()];
                    }
                    s.obj[c] = col;
                }
            }
            int seen = in.getCount();
            int seenCapacity = Math.max(2, seen);
            s.seenSize = seen;
            s.seenIds = new long[seenCapacity];
            s.seenTimes = new long[seenCapacity];
            s.seenFeatures = new float[seenCapacity][];
            for (int i = 0; i < seen; i++) {
                s.seenIds[i] = in.getLong();
                s.seenTimes[i] = unzigzag(in.getVarLong());
                float[] f = new float[in.getCount()];
                for (int k = 0; k < f.length; k++) {
                    f[k] = Float.intBitsToFloat(in.getInt());
                }
                s.seenFeatures[i] = f;
            }
            s.spilledUntil = unzigzag(in.getVarLong());
            return s;
        } catch (RuntimeException e) {
            throw new IllegalStateException(
                    "key state of " + bytes.length + " bytes is corrupt: " + e, e);
        }
    }

    private static long zigzag(long v) {
        return (v << 1) ^ (v >> 63);
    }

    private static long unzigzag(long v) {
        return (v >>> 1) ^ -(v & 1);
    }

    /** A growable buffer written big-endian, with variable-length longs. */
    private static final class Out {
        byte[] buf = new byte[256];
        int pos;

        void ensure(int more) {
            if (pos + more > buf.length) {
                buf = Arrays.copyOf(buf, Math.max(buf.length * 2, pos + more));
            }
        }

        void putLong(long v) {
            ensure(8);
            for (int shift = 56; shift >= 0; shift -= 8) {
                buf[pos++] = (byte) (v >>> shift);
            }
        }

        void putInt(int v) {
            ensure(4);
            buf[pos++] = (byte) (v >>> 24);
            buf[pos++] = (byte) (v >>> 16);
            buf[pos++] = (byte) (v >>> 8);
            buf[pos++] = (byte) v;
        }

        void putDouble(double v) {
            putLong(Double.doubleToRawLongBits(v));
        }

        void putVarLong(long v) {
            ensure(10);
            while ((v & ~0x7FL) != 0) {
                buf[pos++] = (byte) ((v & 0x7F) | 0x80);
                v >>>= 7;
            }
            buf[pos++] = (byte) v;
        }

        void putValue(Object v) {
            ensure(1);
            if (v == KeyState.EXCLUDED) {
                buf[pos++] = EXCLUDED;
            } else if (v == null) {
                buf[pos++] = NULL;
            } else if (v instanceof String str) {
                buf[pos++] = STRING;
                byte[] b = str.getBytes(StandardCharsets.UTF_8);
                putVarLong(b.length);
                ensure(b.length);
                System.arraycopy(b, 0, buf, pos, b.length);
                pos += b.length;
            } else if (v instanceof Long l) {
                buf[pos++] = LONG;
                putVarLong(zigzag(l));
            } else if (v instanceof Double d) {
                buf[pos++] = DOUBLE;
                putDouble(d);
            } else if (v instanceof Boolean b) {
                buf[pos++] = b ? TRUE : FALSE;
            } else {
                throw new IllegalArgumentException(
                        "cannot keep a " + v.getClass() + " in key state");
            }
        }
    }

    /** Reads what {@link Out} wrote; any inconsistency throws. */
    private static final class In {
        final byte[] buf;
        int pos;

        In(byte[] buf) {
            this.buf = buf;
        }

        byte get() {
            return buf[pos++];
        }

        long getLong() {
            long v = 0;
            for (int i = 0; i < 8; i++) {
                v = (v << 8) | (buf[pos++] & 0xFF);
            }
            return v;
        }

        int getInt() {
            return ((buf[pos++] & 0xFF) << 24)
                    | ((buf[pos++] & 0xFF) << 16)
                    | ((buf[pos++] & 0xFF) << 8)
                    | (buf[pos++] & 0xFF);
        }

        double getDouble() {
            return Double.longBitsToDouble(getLong());
        }

        long getVarLong() {
            long v = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                byte b = buf[pos++];
                v |= (long) (b & 0x7F) << shift;
                if (b >= 0) {
                    return v;
                }
            }
            throw new IllegalStateException("a variable-length number longer than 10 bytes");
        }

        /** A count of things that follow: at most what the remaining bytes could hold. */
        int getCount() {
            long v = getVarLong();
            if (v < 0 || v > buf.length - pos) {
                throw new IllegalStateException(
                        "a count of " + v + " with " + (buf.length - pos) + " bytes left");
            }
            return (int) v;
        }

        Object getValue() {
            byte tag = get();
            switch (tag) {
                case EXCLUDED:
                    return KeyState.EXCLUDED;
                case NULL:
                    return null;
                case STRING:
                    int length = getCount();
                    String s = new String(buf, pos, length, StandardCharsets.UTF_8);
                    pos += length;
                    return s;
                case LONG:
                    return unzigzag(getVarLong());
                case DOUBLE:
                    return getDouble();
                case TRUE:
                    return Boolean.TRUE;
                case FALSE:
                    return Boolean.FALSE;
                default:
                    throw new IllegalStateException("unknown value tag " + tag);
            }
        }
    }
}
