using Retro.Core;
using Retro.Core.Options;
using Retro.Engine.Sampling;

namespace Retro.Engine.Tests.Sampling;

public class StopConditionsTests
{
    [Fact]
    public void Eos_stops_before_max_tokens()
    {
        var stop = new StopConditions(3, [2, 9]);
        stop.CheckToken(5, 1).ShouldBe(StopReason.None);
        stop.CheckToken(9, 2).ShouldBe(StopReason.EndOfSequence);
        stop.CheckToken(2, 3).ShouldBe(StopReason.EndOfSequence);
        stop.CheckToken(5, 3).ShouldBe(StopReason.MaxTokens);
    }

    [Fact]
    public void Stop_sequence_is_found_across_token_boundaries_and_cut_before()
    {
        var stop = new StopConditions(100, stopSequences: ["\n\n", "END"]);
        // "Hello" then "\n" then "\nmore": the stop text spans the last two tokens
        stop.FindStopSequence("Hello", 0).ShouldBe(-1);
        stop.FindStopSequence("Hello\n", 5).ShouldBe(-1);
        stop.FindStopSequence("Hello\n\nmore", 6).ShouldBe(5);
        stop.FindStopSequence("abcEN", 3).ShouldBe(-1);
        stop.FindStopSequence("abcENDx", 5).ShouldBe(3);
    }

    [Fact]
    public void Stop_sequence_wholly_in_old_text_is_not_reported_again()
    {
        var stop = new StopConditions(100, stopSequences: ["ab", "xyzw"]);
        stop.FindStopSequence("ab----", 4).ShouldBe(-1);
        stop.FindStopSequence("ab--ab", 5).ShouldBe(4);
    }

    [Fact]
    public void Earliest_stop_sequence_wins()
    {
        var stop = new StopConditions(100, stopSequences: ["cd", "bcde"]);
        stop.FindStopSequence("abcdef", 2).ShouldBe(1);
    }

    [Fact]
    public void Safe_prefix_holds_back_a_possible_stop_sequence_start()
    {
        var stop = new StopConditions(100, stopSequences: ["</s>", "\n\n"]);
        stop.SafePrefixLength("Hello </").ShouldBe(6);
        stop.SafePrefixLength("Hello\n").ShouldBe(5);
        stop.SafePrefixLength("Hello").ShouldBe(5);
        new StopConditions(1).SafePrefixLength("abc").ShouldBe(3);
    }

    [Fact]
    public void Maps_from_generation_options_and_validates()
    {
        var stop = StopConditions.From(new GenerationOptions { MaxTokens = 12, Stop = ["###"] }, eosTokenId: 3);
        stop.MaxTokens.ShouldBe(12);
        stop.EosIds.ShouldBe([3]);
        stop.StopSequences.ShouldBe(["###"]);
        StopConditions.From(new GenerationOptions(), -1).EosIds.ShouldBeEmpty();
        Should.Throw<ArgumentOutOfRangeException>(() => new StopConditions(0));
        Should.Throw<ArgumentException>(() => new StopConditions(5, stopSequences: [""]));
    }
}
