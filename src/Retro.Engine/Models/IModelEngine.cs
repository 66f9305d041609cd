using Retro.Core;
using Retro.Engine.Generation;

namespace Retro.Engine.Models;

/// <summary>
/// An engine that runs model folders (<c>Retro:Engine:Backend</c>): the managed engine on an <see cref="IBackend"/>
/// (<see cref="ManagedEngine"/>) or ONNX Runtime (<c>Retro.Engine.Onnx.OnnxSessionFactory</c>). Each load reads one folder
/// (config.json, weights, tokenizer.json) and takes its model id from it. The caller owns what it loads; disposing the
/// engine releases the engine itself (the backend, its threads), so dispose the models first.
/// </summary>
public interface IModelEngine : IDisposable
{
    /// <summary>The bi-encoder of <paramref name="folder"/>, embedding up to <paramref name="maxBatch"/> texts per pass.</summary>
    ITextEncoder LoadEncoder(string folder, int maxBatch = 32);

    /// <summary>The cross-encoder of <paramref name="folder"/>.</summary>
    IReranker LoadReranker(string folder);

    /// <summary>
    /// The RETRO decoder of <paramref name="folder"/> with its tokenizer. <paramref name="maxNeighbours"/> bounds k per
    /// chunk (default: 8 or the model's num_neighbours, whichever is larger); <paramref name="batchCapacity"/> &gt; 1
    /// batches the single-token steps of concurrent sessions.
    /// </summary>
    IRetroDecoder LoadDecoder(string folder, int? maxNeighbours = null, int batchCapacity = 1);
}
