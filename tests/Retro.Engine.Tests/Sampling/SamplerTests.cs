using Retro.Core;
using Retro.Core.Options;
using Retro.Engine.Sampling;

namespace Retro.Engine.Tests.Sampling;

public class SamplerTests
{
    private const int Draws = 20_000;

    private static float[] LogitsOf(params double[] probs)
    {
        var l = new float[probs.Length];
        for (int i = 0; i < probs.Length; i++) l[i] = probs[i] == 0 ? float.NegativeInfinity : (float)Math.Log(probs[i]);
        return l;
    }

    private static int[] Histogram(SamplingOptions options, float[] logits, int draws = Draws)
    {
        var sampler = new Sampler(logits.Length, options);
        var counts = new int[logits.Length];
        var scratch = new float[logits.Length];
        for (int i = 0; i < draws; i++)
        {
            logits.CopyTo(scratch, 0);
            counts[sampler.Sample(scratch, [])]++;
        }
        return counts;
    }

    [Fact]
    public void Greedy_takes_the_argmax_and_the_lowest_id_on_ties()
    {
        var sampler = new Sampler(5, SamplingOptions.Greedy);
        sampler.Sample(new float[] { 0.1f, 3f, -2f, 3f, 1f }, []).ShouldBe(1);
        sampler.Sample(new float[] { 5f, 3f, -2f, 3f, 1f }, []).ShouldBe(0);
        sampler.Sample(new float[] { -5f, -3f, -2f, -3f, -1f }, []).ShouldBe(4);
    }

    [Fact]
    public void Same_seed_gives_the_same_tokens_and_another_seed_differs()
    {
        var logits = LogitsOf(0.1, 0.2, 0.3, 0.25, 0.15);
        int[] Run(ulong seed)
        {
            var sampler = new Sampler(5, new SamplingOptions { Temperature = 1f, Seed = seed });
            var picks = new int[200];
            var scratch = new float[5];
            for (int i = 0; i < picks.Length; i++)
            {
                logits.CopyTo(scratch, 0);
                picks[i] = sampler.Sample(scratch, []);
            }
            return picks;
        }
        Run(42).ShouldBe(Run(42));
        Run(42).ShouldNotBe(Run(43));
    }

    [Fact]
    public void Temperature_one_samples_the_softmax_distribution()
    {
        double[] p = [0.5, 0.3, 0.15, 0.05];
        var counts = Histogram(new SamplingOptions { Seed = 7 }, LogitsOf(p));
        for (int i = 0; i < p.Length; i++)
            ((double)counts[i] / Draws).ShouldBe(p[i], 0.015, $"token {i}");
    }

    [Fact]
    public void Low_temperature_sharpens_and_high_temperature_flattens()
    {
        var logits = LogitsOf(0.6, 0.4);
        var cold = Histogram(new SamplingOptions { Temperature = 0.25f, Seed = 1 }, logits);
        var hot = Histogram(new SamplingOptions { Temperature = 4f, Seed = 1 }, logits);
        // p ∝ p^(1/T): T = 0.25 → 0.6^4 / (0.6^4 + 0.4^4) = 0.835; T = 4 → 0.6^.25 / (0.6^.25 + 0.4^.25) = 0.525
        ((double)cold[0] / Draws).ShouldBe(0.835, 0.015);
        ((double)hot[0] / Draws).ShouldBe(0.525, 0.015);
    }

    [Fact]
    public void Top_k_keeps_only_the_k_likeliest_renormalised()
    {
        var counts = Histogram(new SamplingOptions { TopK = 2, Seed = 3 }, LogitsOf(0.1, 0.4, 0.2, 0.3));
        counts[0].ShouldBe(0);
        counts[2].ShouldBe(0);
        ((double)counts[1] / Draws).ShouldBe(0.4 / 0.7, 0.015);
        ((double)counts[3] / Draws).ShouldBe(0.3 / 0.7, 0.015);
    }

    [Fact]
    public void Top_p_keeps_the_smallest_set_reaching_the_mass()
    {
        // sorted: 0.5 (id 2), 0.3 (id 0), 0.15 (id 3), 0.05 (id 1); p = 0.75 needs 0.5 + 0.3
        var counts = Histogram(new SamplingOptions { TopP = 0.75f, Seed = 5 }, LogitsOf(0.3, 0.05, 0.5, 0.15));
        counts[1].ShouldBe(0);
        counts[3].ShouldBe(0);
        ((double)counts[2] / Draws).ShouldBe(0.5 / 0.8, 0.015);
        ((double)counts[0] / Draws).ShouldBe(0.3 / 0.8, 0.015);
    }

    [Fact]
    public void Top_p_exactly_reached_does_not_take_the_next_token()
    {
        var counts = Histogram(new SamplingOptions { TopP = 0.5f, Seed = 5 }, LogitsOf(0.5, 0.25, 0.25), 2000);
        counts[0].ShouldBe(2000);
    }

    [Fact]
    public void Top_k_and_top_p_combine_over_the_top_k_mass()
    {
        // top-2 = {0.4, 0.3} renormalised to {0.571, 0.429}; p = 0.5 keeps only the first
        var counts = Histogram(new SamplingOptions { TopK = 2, TopP = 0.5f, Seed = 9 }, LogitsOf(0.4, 0.3, 0.2, 0.1), 2000);
        counts[0].ShouldBe(2000);
    }

    [Fact]
    public void Repetition_penalty_divides_positive_and_multiplies_negative_logits_once_per_token()
    {
        var sampler = new Sampler(4, new SamplingOptions { Temperature = 0f, RepetitionPenalty = 2f });
        var logits = new float[] { 4f, -1f, 3f, 0.5f };
        int pick = sampler.Sample(logits, [0, 0, 1, 0]);
        logits.ShouldBe([2f, -2f, 3f, 0.5f]);
        pick.ShouldBe(2);
    }

    [Fact]
    public void Repetition_penalty_history_is_forgotten_between_calls()
    {
        var sampler = new Sampler(3, new SamplingOptions { Temperature = 0f, RepetitionPenalty = 2f });
        var first = new float[] { 1f, 1f, 1f };
        sampler.Sample(first, [1]);
        var second = new float[] { 1f, 1f, 1f };
        sampler.Sample(second, [2]);
        second.ShouldBe([1f, 1f, 0.5f]);
    }

    [Fact]
    public void No_repeat_ngrams_ban_exactly_the_tokens_that_would_repeat_one()
    {
        var sampler = new Sampler(6, new SamplingOptions { Temperature = 0f, NoRepeatNgramSize = 3 });
        // history ... 1 2 4 ... 1 2 5 ... ends in 1 2: both 4 and 5 would repeat a trigram; 3 would not
        var logits = new float[] { 0f, 0f, 0f, 1f, 9f, 8f };
        int pick = sampler.Sample(logits, [1, 2, 4, 0, 1, 2, 5, 3, 1, 2]);
        pick.ShouldBe(3);
        float.IsNegativeInfinity(logits[4]).ShouldBeTrue();
        float.IsNegativeInfinity(logits[5]).ShouldBeTrue();
        logits[..4].ShouldBe([0f, 0f, 0f, 1f]);
        // the loop "0 1 0 1" greedy would continue with 0: the bigram "1 0" already occurred, so 0 is banned after 1
        var loop = new Sampler(3, new SamplingOptions { Temperature = 0f, NoRepeatNgramSize = 2 });
        loop.Sample(new float[] { 5f, 1f, 0f }, [0, 1, 0, 1]).ShouldBe(1);
    }

    [Fact]
    public void No_repeat_ngrams_never_ban_every_token_and_are_off_at_zero()
    {
        var tiny = new Sampler(2, new SamplingOptions { Temperature = 0f, NoRepeatNgramSize = 1 });
        var logits = new float[] { 2f, 1f };
        tiny.Sample(logits, [0, 1]).ShouldBe(0); // unigrams 0 and 1 both seen: banning both would leave nothing
        logits.ShouldBe([2f, 1f]);
        var off = new Sampler(3, new SamplingOptions { Temperature = 0f });
        off.Sample(new float[] { 3f, 0f, 0f }, [0, 0, 0, 0]).ShouldBe(0);
        Should.Throw<ArgumentOutOfRangeException>(() => new Sampler(4, new SamplingOptions { NoRepeatNgramSize = -1 }));
    }

    [Fact]
    public void Rejects_bad_input_clearly()
    {
        Should.Throw<ArgumentOutOfRangeException>(() => new Sampler(4, new SamplingOptions { TopP = 1.5f }));
        Should.Throw<ArgumentOutOfRangeException>(() => new Sampler(4, new SamplingOptions { Temperature = -1f }));
        Should.Throw<ArgumentOutOfRangeException>(() => new Sampler(4, new SamplingOptions { RepetitionPenalty = 0.5f }));
        var sampler = new Sampler(4, new SamplingOptions { RepetitionPenalty = 1.2f });
        Should.Throw<ArgumentException>(() => sampler.Sample(new float[3], []));
        Should.Throw<ArgumentOutOfRangeException>(() => sampler.Sample(new float[4], [7]));
    }

    [Fact]
    public void Options_map_from_generation_options()
    {
        var o = SamplingOptions.From(new GenerationOptions { Temperature = 0.7f, TopK = 40, TopP = 0.9f, RepetitionPenalty = 1.1f, NoRepeatNgramSize = 3, Seed = 12 });
        o.ShouldBe(new SamplingOptions { Temperature = 0.7f, TopK = 40, TopP = 0.9f, RepetitionPenalty = 1.1f, NoRepeatNgramSize = 3, Seed = 12 });
        SamplingOptions.From(new GenerationOptions()).NoRepeatNgramSize.ShouldBe(4); // the service's default
    }

    [Fact]
    public void Sampling_allocates_nothing_per_token()
    {
        var logits = LogitsOf(0.1, 0.2, 0.3, 0.25, 0.15);
        var sampler = new Sampler(5, new SamplingOptions { TopK = 3, TopP = 0.9f, RepetitionPenalty = 1.3f, Seed = 2 });
        var scratch = new float[5];
        int[] history = [1, 2];
        for (int i = 0; i < 100; i++) { logits.CopyTo(scratch, 0); sampler.Sample(scratch, history); } // warm up
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++) { logits.CopyTo(scratch, 0); sampler.Sample(scratch, history); }
        (GC.GetAllocatedBytesForCurrentThread() - before).ShouldBe(0);
    }
}
