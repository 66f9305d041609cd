using Retro.Core;
using Retro.VectorStore.Tests.Contract;

namespace Retro.VectorStore.Tests;

/// <summary>The shared store contract, run against <see cref="EmbeddedVectorStore"/> in a temporary folder.</summary>
public sealed class EmbeddedContractTests : VectorStoreContractTests, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("retro-contract-").FullName;

    protected override async Task<IVectorStore> CreateStoreAsync(CollectionSpec spec)
        => await EmbeddedVectorStore.OpenAsync(_directory, spec);

    protected override async Task<IVectorStore?> ReopenStoreAsync(IVectorStore store, CollectionSpec spec)
    {
        await store.DisposeAsync();
        return await EmbeddedVectorStore.OpenAsync(_directory, spec);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
