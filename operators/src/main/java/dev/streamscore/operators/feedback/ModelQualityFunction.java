package dev.streamscore.operators.feedback;

import dev.streamscore.schemas.ModelQuality;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Live quality of each model version, keyed by {@link LabelledScore#qualityKey()} (role, name,
 * version): the most recent {@code window} labelled scores of that version, kept in keyed state as
 * a ring (one map entry per position, so each label costs one state write), and every {@code
 * interval} of processing time after a label arrived, their {@link QualityStats} as a {@link
 * ModelQuality} record and as gauges in the metric group {@code model_<role>_<name>_<version>}:
 * {@value #PRECISION_AT_REVIEW}, {@value #RECALL_AT_REVIEW}, {@value #PRECISION_AT_DECLINE},
 * {@value #RECALL_AT_DECLINE}, {@value #PR_AUC}, {@value #LABELLED}.
 */
public class ModelQualityFunction
        extends KeyedProcessFunction<String, LabelledScore, ModelQuality> {

    private static final long serialVersionUID = 1L;

    public static final String PRECISION_AT_REVIEW = "precisionAtReview";
    public static final String RECALL_AT_REVIEW = "recallAtReview";
    public static final String PRECISION_AT_DECLINE = "precisionAtDecline";
    public static final String RECALL_AT_DECLINE = "recallAtDecline";
    public static final String PR_AUC = "prAuc";
    public static final String LABELLED = "labelledInWindow";

    private final int window;
    private final long intervalMillis;

    private transient MapState<Integer, Long> ring;
    private transient ValueState<Long> total;
    private transient ValueState<LabelledScore> identity;
    private transient ValueState<Long> timer;

    /** The latest statistics per key, which the gauges read; this subtask's keys only. */
    private transient Map<String, QualityStats> latest;

    /** The window the ring was filled with: a restore with another one starts the ring anew. */
    private transient ValueState<Integer> filledWith;

    public ModelQualityFunction(int window, Duration interval) {
        if (window < 1) {
            throw new IllegalArgumentException(
                    "quality window must be at least 1 labelled event, got " + window);
        }
        if (interval.isNegative() || interval.isZero()) {
            throw new IllegalArgumentException(
                    "quality interval must be positive, got " + interval);
        }
        this.window = window;
        this.intervalMillis = interval.toMillis();
    }

    @Override
    public void open(OpenContext openContext) {
        ring =
                getRuntimeContext()
                        .getMapState(
                                new MapStateDescriptor<>("quality-window", Types.INT, Types.LONG));
        total =
                getRuntimeContext()
                        .getState(new ValueStateDescriptor<>("quality-total", Types.LONG));
        identity =
                getRuntimeContext()
                        .getState(
                                new ValueStateDescriptor<>(
                                        "quality-model", TypeInformation.of(LabelledScore.class)));
        timer =
                getRuntimeContext()
                        .getState(new ValueStateDescriptor<>("quality-timer", Types.LONG));
        latest = new ConcurrentHashMap<>(); // read by the metric reporter's thread
        filledWith =
                getRuntimeContext()
                        .getState(new ValueStateDescriptor<>("quality-window-size", Types.INT));
    }

    @Override
    public void processElement(LabelledScore labelled, Context ctx, Collector<ModelQuality> out)
            throws Exception {
        Long seen = total.value();
        long n = seen == null ? 0 : seen;
        Integer size = filledWith.value();
        if (size == null || size != window) {
            if (size != null) {
                // --quality-window changed across a restore: positions n % window no longer
                // name the most recent labels, so the window starts again from here.
                ring.clear();
                n = 0;
            }
            filledWith.update(window);
        }
        ring.put(
                (int) (n % window),
                QualityStats.pack(labelled.score, labelled.decision, labelled.fraud));
        total.update(n + 1);
        if (seen == null) {
            identity.update(labelled);
        }
        if (timer.value() == null) {
            long at = ctx.timerService().currentProcessingTime() + intervalMillis;
            ctx.timerService().registerProcessingTimeTimer(at);
            timer.update(at);
        }
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<ModelQuality> out)
            throws Exception {
        timer.clear();
        long n = total.value() == null ? 0 : total.value();
        int size = (int) Math.min(n, window);
        long[] entries = new long[size];
        int i = 0;
        for (Long e : ring.values()) {
            if (i == size) {
                break;
            }
            entries[i++] = e;
        }
        QualityStats stats = QualityStats.of(entries, i);
        LabelledScore model = identity.value();
        String key = ctx.getCurrentKey();
        if (latest.put(key, stats) == null) {
            registerGauges(key, model);
        }
        out.collect(
                ModelQuality.newBuilder()
                        .setModelName(model.modelName)
                        .setModelVersion(model.modelVersion)
                        .setRole(model.role)
                        .setLabelled(stats.labelled())
                        .setFrauds(stats.positives()) // the wire name of the positives
                        .setFlagged(stats.flagged())
                        .setPrecisionAtReview(stats.precisionAtReview())
                        .setRecallAtReview(stats.recallAtReview())
                        .setPrecisionAtDecline(stats.precisionAtDecline())
                        .setRecallAtDecline(stats.recallAtDecline())
                        .setPrAuc(stats.prAuc())
                        .setLabelledTotal(n)
                        .setWindow(window)
                        .setAt(Instant.ofEpochMilli(timestamp))
                        .build());
    }

    private void registerGauges(String key, LabelledScore model) {
        MetricGroup group =
                getRuntimeContext()
                        .getMetricGroup()
                        .addGroup(
                                "model_"
                                        + model.role.name().toLowerCase(java.util.Locale.ROOT)
                                        + "_"
                                        + model.modelName
                                        + "_"
                                        + model.modelVersion);
        gauge(group, key, PRECISION_AT_REVIEW, QualityStats::precisionAtReview);
        gauge(group, key, RECALL_AT_REVIEW, QualityStats::recallAtReview);
        gauge(group, key, PRECISION_AT_DECLINE, QualityStats::precisionAtDecline);
        gauge(group, key, RECALL_AT_DECLINE, QualityStats::recallAtDecline);
        gauge(group, key, PR_AUC, QualityStats::prAuc);
        gauge(group, key, LABELLED, s -> (double) s.labelled());
    }

    private void gauge(
            MetricGroup group,
            String key,
            String name,
            java.util.function.ToDoubleFunction<QualityStats> value) {
        group.gauge(name, (Gauge<Double>) () -> value.applyAsDouble(latest.get(key)));
    }
}
