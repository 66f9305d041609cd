using Retro.Core;
using Retro.Core.Options;
using Retro.VectorStore.Qdrant;

namespace Retro.Indexer.Cli;

/// <summary>Where the CLI gets its tokenizer, bi-encoder and store (the real ones in <c>Program</c>, doubles in tests).</summary>
public interface IIndexerComponents
{
    /// <summary>The decoder's tokenizer from a folder holding <c>tokenizer.json</c>.</summary>
    ITokenizer LoadDecoderTokenizer(string folder);

    /// <summary>The bi-encoder from a model folder.</summary>
    ITextEncoder LoadEncoder(string folder);

    /// <summary>The embedding dimension of the bi-encoder in a model folder, without loading its weights.</summary>
    int EncoderDimension(string folder);

    /// <summary>Opens (without creating the collection) the store the options describe (Qdrant with <paramref name="qdrant"/>).</summary>
    IVectorStore OpenStore(VectorStoreOptions options, QdrantOptions qdrant);
}
