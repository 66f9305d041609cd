using Retro.Core;
using Retro.Engine;
using Retro.Engine.Bert;
using Retro.Engine.Checkpoints;
using Retro.Engine.Generation;
using Retro.Engine.Onnx;
using Retro.Engine.Retro;
using Retro.Tokenizers;

namespace Retro.Api.Hosting;

/// <summary>Model-folder loading for the service, on one backend (managed or ONNX Runtime); every loaded object is added to an owner list.</summary>
internal static class ModelLoaders
{
    public static ITextEncoder LoadEncoder(string folder, IBackend backend, List<IDisposable> owned)
    {
        var encoder = BertTextEncoder.Load(folder, backend);
        owned.Add(encoder);
        return encoder;
    }

    public static IReranker LoadReranker(string folder, IBackend backend, List<IDisposable> owned)
    {
        var reranker = BertReranker.Load(folder, backend);
        owned.Add(reranker);
        return reranker;
    }

    public static IRetroDecoder LoadDecoder(string folder, IBackend backend, int batchCapacity, List<IDisposable> owned)
    {
        string modelId;
        using (var model = ModelFolder.Open(folder, "retro")) modelId = model.ComputeModelId();
        var tokenizer = TokenizerLoader.FromFolder(folder);
        var decoder = RetroDecoder.Load(folder, backend);
        owned.Add(decoder);
        var adapter = new RetroDecoderAdapter(decoder, tokenizer, modelId, ownsDecoder: false, batchCapacity: batchCapacity);
        owned.Add(adapter);
        return adapter;
    }

    public static ITextEncoder LoadEncoder(string folder, OnnxSessionFactory factory, List<IDisposable> owned) => Own(OnnxTextEncoder.Load(folder, factory), owned);

    public static IReranker LoadReranker(string folder, OnnxSessionFactory factory, List<IDisposable> owned) => Own(OnnxReranker.Load(folder, factory), owned);

    public static IRetroDecoder LoadDecoder(string folder, OnnxSessionFactory factory, int batchCapacity, List<IDisposable> owned) =>
        Own(OnnxRetroDecoder.Load(folder, factory, batchCapacity: batchCapacity), owned);

    private static T Own<T>(T model, List<IDisposable> owned) where T : IDisposable
    {
        owned.Add(model);
        return model;
    }
}
