package dev.streamscore.operators.feedback;

import dev.streamscore.schemas.FraudLabel;
import dev.streamscore.schemas.LabelValue;
import dev.streamscore.schemas.ModelRole;
import java.time.Duration;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.StateTtlConfig;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.co.KeyedCoProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Joins what was scored with the labels that arrive later, keyed by event id (the pipeline's {@code
 * input.id}): each of an event's scores (the champion's, and the challenger's when one ran) becomes
 * one {@link LabelledScore} when the event's label is known, whichever arrives first. What waits is
 * kept in keyed state for the label horizon (processing time, state TTL, written on create and on
 * each change), then forgotten: a label that arrives later than that after its event's score finds
 * nothing and waits, in turn, for a score that never comes.
 *
 * <p>The first label of an event counts; a later one for the same event (a chargeback after an
 * analyst's verdict, say) is counted in {@link #LABELS_REPEATED} and changes nothing, so that no
 * labelled score is ever counted twice. A score repeated after a restart (at-least-once) replaces
 * the one waiting, and is not counted again once labelled.
 */
public class LabelJoin
        extends KeyedCoProcessFunction<String, ScoreForLabel, FraudLabel, LabelledScore> {

    private static final long serialVersionUID = 1L;

    /** Counter: labels that found their first score waiting or were kept for it. */
    public static final String LABELS_JOINED = "labelsJoined";

    /** Counter: labels for an event that already had one; ignored. */
    public static final String LABELS_REPEATED = "labelsRepeated";

    /** Counter: labelled scores sent on to the quality computation. */
    public static final String LABELLED_SCORES = "labelledScores";

    /** Keyed state of one event: its scores and its label, whichever arrived. */
    public static final String STATE_NAME = "label-join";

    private final Duration horizon;
    private transient ValueState<Pending> pending;
    private transient Counter joined;
    private transient Counter repeated;
    private transient Counter labelled;

    /**
     * @param horizon how long a score waits for its label, and a label for its scores
     */
    public LabelJoin(Duration horizon) {
        if (horizon.isNegative() || horizon.isZero()) {
            throw new IllegalArgumentException("label horizon must be positive, got " + horizon);
        }
        this.horizon = horizon;
    }

    /** What one event has so far. A Flink POJO. */
    public static class Pending {
        public ScoreForLabel champion;
        public ScoreForLabel challenger;

        /** Null until the label arrives. */
        public LabelValue label;

        public boolean championCounted;
        public boolean challengerCounted;

        public Pending() {}
    }

    static ValueStateDescriptor<Pending> descriptor(Duration horizon) {
        ValueStateDescriptor<Pending> d =
                new ValueStateDescriptor<>(STATE_NAME, TypeInformation.of(Pending.class));
        d.enableTimeToLive(
                StateTtlConfig.newBuilder(horizon)
                        .setUpdateType(StateTtlConfig.UpdateType.OnCreateAndWrite)
                        .setStateVisibility(StateTtlConfig.StateVisibility.NeverReturnExpired)
                        .cleanupInRocksdbCompactFilter(1000)
                        .build());
        return d;
    }

    @Override
    public void open(OpenContext openContext) {
        pending = getRuntimeContext().getState(descriptor(horizon));
        joined = getRuntimeContext().getMetricGroup().counter(LABELS_JOINED);
        repeated = getRuntimeContext().getMetricGroup().counter(LABELS_REPEATED);
        labelled = getRuntimeContext().getMetricGroup().counter(LABELLED_SCORES);
    }

    @Override
    public void processElement1(ScoreForLabel score, Context ctx, Collector<LabelledScore> out)
            throws Exception {
        Pending p = pending.value();
        if (p == null) {
            p = new Pending();
        }
        boolean champion = score.role == ModelRole.CHAMPION;
        if (p.label != null) {
            if (champion ? p.championCounted : p.challengerCounted) {
                return; // a repeat of a score already counted
            }
            emit(score, p.label, out);
            if (champion) {
                p.championCounted = true;
            } else {
                p.challengerCounted = true;
            }
        } else if (champion) {
            p.champion = withoutId(score);
        } else {
            p.challenger = withoutId(score);
        }
        pending.update(p);
    }

    @Override
    public void processElement2(FraudLabel label, Context ctx, Collector<LabelledScore> out)
            throws Exception {
        Pending p = pending.value();
        if (p == null) {
            p = new Pending();
        } else if (p.label != null) {
            repeated.inc();
            return;
        }
        joined.inc();
        p.label = label.getLabel();
        if (p.champion != null) {
            emit(p.champion, p.label, out);
            p.champion = null;
            p.championCounted = true;
        }
        if (p.challenger != null) {
            emit(p.challenger, p.label, out);
            p.challenger = null;
            p.challengerCounted = true;
        }
        pending.update(p);
    }

    /** The score as it waits: its event id is the state's key already. */
    private static ScoreForLabel withoutId(ScoreForLabel s) {
        return new ScoreForLabel(null, s.role, s.modelName, s.modelVersion, s.score, s.decision);
    }

    private void emit(ScoreForLabel score, LabelValue label, Collector<LabelledScore> out) {
        labelled.inc();
        out.collect(new LabelledScore(score, label == LabelValue.FRAUD));
    }
}
