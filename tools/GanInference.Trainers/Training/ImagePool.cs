using static TorchSharp.torch;

namespace GanInference.Trainers.Training;

/// <summary>
/// CycleGAN's history of generated images (Shrivastava et al. 2017): the discriminator sees, for
/// each new fake, either that fake or (with probability ½ once the pool is full) an older one it
/// replaces, which damps oscillation. The pool owns its tensors, outside any dispose scope.
/// </summary>
public sealed class ImagePool(int capacity, Random random) : IDisposable
{
    public const int DefaultCapacity = 50;

    private readonly List<Tensor> images = [];

    public int Count => images.Count;

    /// <param name="fakes">[B, C, H, W] generated images (detached by the pool).</param>
    /// <returns>[B, C, H, W]: per image, the new one or a stored older one.</returns>
    public Tensor Query(Tensor fakes)
    {
        if (capacity <= 0)
        {
            return fakes.detach();
        }

        var chosen = new List<Tensor>();
        for (var i = 0; i < fakes.shape[0]; i++)
        {
            var image = fakes[i].unsqueeze(0).detach();
            if (images.Count < capacity)
            {
                images.Add(image.clone().DetachFromDisposeScope());
                chosen.Add(image);
            }
            else if (random.NextDouble() < 0.5)
            {
                var slot = random.Next(images.Count);
                chosen.Add(images[slot].clone());
                images[slot].Dispose();
                images[slot] = image.clone().DetachFromDisposeScope();
            }
            else
            {
                chosen.Add(image);
            }
        }

        return cat(chosen, 0);
    }

    public void Dispose()
    {
        foreach (var image in images)
        {
            image.Dispose();
        }

        images.Clear();
    }
}
