package dev.streamscore.operators.batching;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.streamscore.operators.batching.TestScorers.SumScorer;
import org.junit.jupiter.api.Test;

class ModelHolderTest {

    private final SumScorer v1 = new SumScorer("1", 2, 1f);
    private final SumScorer v2 = new SumScorer("2", 2, 2f);

    @Test
    void aBatchKeepsTheModelItOpenedWithAndTheOldModelClosesAfterItsLastBatch() throws Exception {
        ModelHolder models = new ModelHolder(v1);
        BatchScorer first = models.acquire();
        BatchScorer second = models.acquire();

        models.replace(v2);

        assertThat(first).isSameAs(v1);
        assertThat(models.current()).isSameAs(v2);
        assertThat(models.acquire()).as("a batch opened now").isSameAs(v2);
        assertThat(models.openModels()).isEqualTo(2);
        models.release(first);
        assertThat(v1.closed).as("one batch still holds v1").isFalse();
        models.release(second);
        assertThat(v1.closed).isTrue();
        assertThat(models.openModels()).isEqualTo(1);
        assertThat(v2.closed).isFalse();
    }

    @Test
    void aReplacedModelNoBatchHoldsClosesAtOnce() throws Exception {
        ModelHolder models = new ModelHolder(v1);
        models.release(models.acquire());

        models.replace(v2);

        assertThat(v1.closed).isTrue();
        assertThat(models.current()).isSameAs(v2);
    }

    @Test
    void aCallThatOutlivesItsBatchKeepsAReplacedModelOpenUntilItReturns() throws Exception {
        ModelHolder models = new ModelHolder(v1);
        BatchScorer batch = models.acquire();
        models.hold(batch); // a call of the batch, which times out and hangs
        models.replace(v2);
        models.release(batch); // the batch went on and finished

        assertThat(v1.closed).as("the hung call still runs on v1").isFalse();
        models.release(batch); // the hung call returned
        assertThat(v1.closed).isTrue();
    }

    @Test
    void releasingTheCurrentModelNeverClosesIt() throws Exception {
        ModelHolder models = new ModelHolder(v1);
        models.release(models.acquire());
        assertThat(v1.closed).isFalse();
        assertThatThrownBy(() -> models.release(v1))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("released a model nothing holds");
    }

    @Test
    void closeClosesEveryModelStillOpenOnceAndAbandonClosesNone() throws Exception {
        ModelHolder models = new ModelHolder(v1);
        models.acquire();
        models.replace(v2);
        models.close();
        assertThat(v1.closed).isTrue();
        assertThat(v2.closed).isTrue();
        assertThat(models.current()).isNull();
        models.close(); // nothing left to close: no second close of either

        SumScorer hung = new SumScorer("3", 2, 1f);
        ModelHolder leaking = new ModelHolder(hung);
        leaking.abandon();
        leaking.close();
        assertThat(hung.closed).isFalse();
    }
}
