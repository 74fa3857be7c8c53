/**
 * Fashion-MNIST as published: file names, the sha256 of each file's DECOMPRESSED content (Debian re-gzipped
 * the files, so .gz bytes differ between copies while the content is the same), sizes and class names.
 */

export const CLASS_NAMES = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot"
] as const

export interface SourceFile {
  /** The raw IDX file name; published gzipped as `${name}.gz`. */
  readonly name: string
  readonly split: "train" | "test"
  readonly role: "images" | "labels"
  readonly count: number
  readonly bytes: number
  readonly sha256: string
}

export const FILES: ReadonlyArray<SourceFile> = [
  {
    name: "train-images-idx3-ubyte",
    split: "train",
    role: "images",
    count: 60000,
    bytes: 47040016,
    sha256: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"
  },
  {
    name: "train-labels-idx1-ubyte",
    split: "train",
    role: "labels",
    count: 60000,
    bytes: 60008,
    sha256: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"
  },
  {
    name: "t10k-images-idx3-ubyte",
    split: "test",
    role: "images",
    count: 10000,
    bytes: 7840016,
    sha256: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"
  },
  {
    name: "t10k-labels-idx1-ubyte",
    split: "test",
    role: "labels",
    count: 10000,
    bytes: 10008,
    sha256: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"
  }
]

/** The publisher's download location (each file as `${name}.gz`). */
export const OFFICIAL_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com"

/** Where Debian's `dataset-fashion-mnist` package installs the files. */
export const DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
