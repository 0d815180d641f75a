package dev.streamscore.operators.lifecycle;

import dev.streamscore.operators.deadletter.DeadLetters;
import dev.streamscore.operators.serde.KafkaRecord;
import dev.streamscore.operators.serde.SmallRecordDecoding;
import dev.streamscore.schemas.DeadLetter;
import dev.streamscore.schemas.ModelCommand;
import dev.streamscore.schemas.Stage;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import java.util.function.Consumer;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decodes the control topic's single-object encoded {@link ModelCommand}s. A record that does not
 * decode (or is larger than 64 KiB, far more than any command needs) goes to the dead-letter side
 * output with stage DECODE and a log line; it never fails the job. Whether a decoded command can be
 * applied is the inference operator's to say, on the status topic.
 *
 * <pre>{@code
 * SingleOutputStreamOperator<ModelCommand> commands =
 *         controlRecords.process(new ModelCommandDecoder()).uid("decode-model-commands");
 * }</pre>
 */
public class ModelCommandDecoder extends ProcessFunction<KafkaRecord, ModelCommand> {

    private static final long serialVersionUID = 1L;

    private static final Logger LOG = LoggerFactory.getLogger(ModelCommandDecoder.class);

    /** Largest command record decoded. */
    public static final int MAX_COMMAND_BYTES = 64 * 1024;

    /** Counter of control records that were not commands. */
    public static final String DEAD_LETTERS = "deadLettersModelCommands";

    private final SingleObjectCodec<ModelCommand> codec = SingleObjectCodec.of(ModelCommand.class);
    private transient Counter deadLetters;

    @Override
    public void open(OpenContext openContext) {
        deadLetters = getRuntimeContext().getMetricGroup().counter(DEAD_LETTERS);
    }

    @Override
    public void processElement(KafkaRecord record, Context ctx, Collector<ModelCommand> out) {
        ModelCommand command =
                decode(
                        record,
                        letter -> {
                            deadLetters.inc();
                            ctx.output(DeadLetters.TAG, letter);
                        });
        if (command != null) {
            out.collect(command);
        }
    }

    /**
     * The command {@code record} holds, or {@code null} after handing {@code rejected} exactly one
     * dead letter saying why; never throws.
     */
    public ModelCommand decode(KafkaRecord record, Consumer<DeadLetter> rejected) {
        SmallRecordDecoding.Result<ModelCommand> decoded =
                SmallRecordDecoding.decode(record, codec, MAX_COMMAND_BYTES, "a model command");
        if (decoded.value() != null) {
            return decoded.value();
        }
        LOG.warn(
                "Control record at {}-{} offset {} ignored: {}",
                record.topic,
                record.partition,
                record.offset,
                decoded.problem());
        rejected.accept(decoded.deadLetter(record, Stage.DECODE, null));
        return null;
    }
}
