namespace Retro.Benchmarks.Tokenizers;

/// <summary>The <c>tokenizer</c> sub-command: BPE trainer, encoder throughput, Microsoft.ML.Tokenizers as the peer (see <see cref="TokenizerBenchmark"/>).</summary>
public sealed class TokenizerSuite : ISuite
{
    public string Name => "tokenizer";

    public string Description => "BPE trainer (word counting, merges) and encoder throughput on real text, Microsoft.ML.Tokenizers as the peer; reference dumps";

    public int Run(string[] args) => TokenizerBenchmark.Run(args);
}
