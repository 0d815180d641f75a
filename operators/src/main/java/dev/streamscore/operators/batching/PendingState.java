package dev.streamscore.operators.batching;

import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.TaskInfo;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.OperatorStateStore;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.apache.flink.streaming.runtime.streamrecord.StreamElement;
import org.apache.flink.streaming.runtime.streamrecord.StreamElementSerializer;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;

/**
 * The checkpointed elements of a {@link BatchingOperator}: every element accepted and not yet
 * emitted, with its timestamp, in union list state. Union state because after a rescale each
 * subtask must see every pending element to keep those whose key it now owns: each is then scored
 * once, by the subtask whose keyed state (the cache) its result goes to. Flink's {@code
 * AsyncWaitOperator} uses plain list state instead, which spreads elements evenly, not by key.
 *
 * <pre>{@code
 * PendingState<IN> state = new PendingState<>(context.getOperatorStateStore(), serializer);
 * List<StreamRecord<IN>> mine = state.restored(keySelector, taskInfo); // after a restore
 * state.update(results.unemitted());                                   // on each snapshot
 * }</pre>
 */
final class PendingState<IN> {

    private final ListState<StreamElement> state;

    PendingState(OperatorStateStore store, TypeSerializer<IN> elementSerializer) throws Exception {
        this(store, BatchingOperator.PENDING_STATE, elementSerializer);
    }

    /** Under another name: the elements waiting for the challenger are a second such list. */
    PendingState(OperatorStateStore store, String name, TypeSerializer<IN> elementSerializer)
            throws Exception {
        this.state =
                store.getUnionListState(
                        new ListStateDescriptor<>(
                                name, new StreamElementSerializer<>(elementSerializer)));
    }

    /** The restored elements whose key belongs to this subtask, in their arrival order. */
    List<StreamRecord<IN>> restored(KeySelector<IN, ?> keys, TaskInfo task) throws Exception {
        KeyGroupRange owned =
                KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex(
                        task.getMaxNumberOfParallelSubtasks(),
                        task.getNumberOfParallelSubtasks(),
                        task.getIndexOfThisSubtask());
        List<StreamRecord<IN>> mine = new ArrayList<>();
        for (StreamElement element : state.get()) {
            StreamRecord<IN> record = element.asRecord();
            int keyGroup =
                    KeyGroupRangeAssignment.assignToKeyGroup(
                            keys.getKey(record.getValue()), task.getMaxNumberOfParallelSubtasks());
            if (owned.contains(keyGroup)) {
                mine.add(record);
            }
        }
        return mine;
    }

    /** Replaces the state with the elements waiting for the challenger. */
    void updateChallengerEntries(List<ChallengerScoring.Entry<IN>> entries) throws Exception {
        List<StreamElement> elements = new ArrayList<>(entries.size());
        for (ChallengerScoring.Entry<IN> entry : entries) {
            elements.add(
                    entry.hasTimestamp
                            ? new StreamRecord<>(entry.element, entry.timestamp)
                            : new StreamRecord<>(entry.element));
        }
        state.update(elements);
    }

    /** Replaces the state with {@code pending}, for the snapshot being taken. */
    void update(List<? extends PendingElement<IN, ?>> pending) throws Exception {
        List<StreamElement> elements = new ArrayList<>(pending.size());
        for (PendingElement<IN, ?> element : pending) {
            elements.add(
                    element.hasTimestamp
                            ? new StreamRecord<>(element.element, element.timestamp)
                            : new StreamRecord<>(element.element));
        }
        state.update(elements);
    }
}
