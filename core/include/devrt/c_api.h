/* devrt plugin ABI.
 *
 * A backend is a shared library that links libdevrt_core and exports
 *
 *     int devrt_plugin_init(uint32_t abi_version);
 *
 * The core calls it once, after dlopen, from the backend's pluggy hook. It
 * registers the backend's device type and its kernels with the functions
 * below and returns 0, or non-zero after setting a message with
 * devrt_set_error().
 *
 * Every struct passed across this boundary starts with its own size, so a
 * plugin compiled against an older, shorter struct keeps working when fields
 * are appended. Fields are only ever appended, never reordered.
 *
 * Kernels never allocate their outputs and never infer shapes: the core has
 * done both before the call. Views carry strides in elements; a broadcast
 * input arrives already expanded to the output shape (stride 0).
 */
#ifndef DEVRT_C_API_H
#define DEVRT_C_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DEVRT_ABI_VERSION 1u

#if defined(_WIN32)
#define DEVRT_EXPORT __declspec(dllexport)
#else
#define DEVRT_EXPORT __attribute__((visibility("default")))
#endif

/* Element types. The numbering is part of the ABI. */
typedef enum devrt_dtype {
  DEVRT_BOOL = 0,
  DEVRT_UINT8 = 1,
  DEVRT_INT32 = 2,
  DEVRT_INT64 = 3,
  DEVRT_FLOAT16 = 4,
  DEVRT_BFLOAT16 = 5,
  DEVRT_FLOAT32 = 6,
  DEVRT_FLOAT64 = 7,
  DEVRT_NUM_DTYPES = 8
} devrt_dtype;

#define DEVRT_DTYPE_BIT(d) (1u << (d))
#define DEVRT_FLOATING_MASK                                                    \
  (DEVRT_DTYPE_BIT(DEVRT_FLOAT32) | DEVRT_DTYPE_BIT(DEVRT_FLOAT64))
#define DEVRT_INTEGRAL_MASK                                                    \
  (DEVRT_DTYPE_BIT(DEVRT_INT32) | DEVRT_DTYPE_BIT(DEVRT_INT64))
#define DEVRT_ALL_MASK ((1u << DEVRT_NUM_DTYPES) - 1u)

/* A strided view of device memory. `data` already includes the storage
 * offset. Strides are in elements and may be zero (broadcast) or negative. */
typedef struct devrt_view {
  size_t struct_size;
  void *data;
  int32_t dtype;
  int32_t ndim;
  const int64_t *shape;
  const int64_t *strides;
  int32_t device_type;
  int32_t device_index;
} devrt_view;

typedef enum devrt_attr_kind {
  DEVRT_ATTR_NONE = 0, /* an optional attribute that was not given */
  DEVRT_ATTR_INT = 1,
  DEVRT_ATTR_FLOAT = 2,
  DEVRT_ATTR_INTS = 3,
  DEVRT_ATTR_BOOL = 4,
  DEVRT_ATTR_DTYPE = 5,
  /* A number given by the user: `i` and `f` both hold it, so integer kernels
   * read an exact int64 and floating kernels a double. */
  DEVRT_ATTR_SCALAR = 6
} devrt_attr_kind;

typedef struct devrt_attr {
  int32_t kind;
  int32_t count; /* number of entries of `ints` */
  int64_t i;
  double f;
  const int64_t *ints;
} devrt_attr;

/* Error categories a kernel may return; the core maps them onto Python's
 * exception types. */
typedef enum devrt_status {
  DEVRT_OK = 0,
  DEVRT_ERROR_RUNTIME = 1,
  DEVRT_ERROR_VALUE = 2,
  DEVRT_ERROR_INDEX = 3,
  DEVRT_ERROR_TYPE = 4,
  DEVRT_ERROR_NOT_IMPLEMENTED = 5,
  DEVRT_ERROR_OUT_OF_MEMORY = 6
} devrt_status;

typedef struct devrt_kernel_call {
  size_t struct_size;
  const char *op; /* catalogue name, for messages */
  int32_t n_inputs;
  int32_t n_outputs;
  int32_t n_attrs;
  const devrt_view *inputs;
  const devrt_view *outputs;
  const devrt_attr *attrs; /* in the order the catalogue declares them */
  void *stream;            /* the device's stream or context, or NULL */
  void *user_data;         /* as given to devrt_register_kernel */
  char *error;             /* a kernel that fails writes its message here */
  size_t error_size;
} devrt_kernel_call;

/* Returns a devrt_status. */
typedef int (*devrt_kernel_fn)(const devrt_kernel_call *call);

typedef enum devrt_copy_kind {
  DEVRT_COPY_HOST_TO_DEVICE = 0,
  DEVRT_COPY_DEVICE_TO_HOST = 1,
  DEVRT_COPY_DEVICE_TO_DEVICE = 2
} devrt_copy_kind;

typedef struct devrt_backend_desc {
  size_t struct_size;
  const char *name; /* device type: "cpu", "cuda", "mydev" */
  int32_t device_count;
  /* Non-zero when device memory is ordinary host memory: the core then
   * shares it with NumPy without copies. */
  int32_t host_accessible;
  void *user_data;
  /* Raw allocation; the core wraps it in its caching allocator. Returns NULL
   * when the device is out of memory. Called without the GIL. */
  void *(*alloc)(void *user_data, int32_t device, size_t nbytes);
  void (*free)(void *user_data, int32_t device, void *ptr, size_t nbytes);
  /* Contiguous copy of nbytes. Returns a devrt_status. */
  int (*copy)(void *user_data, int32_t device, void *dst, const void *src,
              size_t nbytes, int32_t kind);
  int (*synchronize)(void *user_data, int32_t device);
  void *(*stream)(void *user_data, int32_t device); /* may be NULL */
  /* The DLPack DLDeviceType of this device's memory (2: kDLCUDA), used by
   * __dlpack__, __dlpack_device__ and from_dlpack; 0 when DLPack has none.
   * The core itself knows only kDLCPU, its "cpu" device. */
  int32_t dlpack_device_type;
} devrt_backend_desc;

/* devrt_kernel_desc.flags: replace a kernel that another plugin registered
 * for the same op and device type (without it, that is an error). */
#define DEVRT_KERNEL_OVERRIDE 1u

typedef struct devrt_kernel_desc {
  size_t struct_size;
  const char *op;      /* catalogue name; never a view or composite op */
  const char *backend; /* device type name */
  uint32_t dtypes;     /* DEVRT_DTYPE_BIT mask of supported dtypes */
  devrt_kernel_fn fn;
  void *user_data;
  uint32_t flags; /* DEVRT_KERNEL_OVERRIDE or 0 */
} devrt_kernel_desc;

/* Registration, called from devrt_plugin_init. Return a devrt_status; on
 * failure the message is available from devrt_last_error(). */
DEVRT_EXPORT int devrt_register_backend(const devrt_backend_desc *desc);
DEVRT_EXPORT int devrt_register_kernel(const devrt_kernel_desc *desc);
DEVRT_EXPORT const char *devrt_last_error(void);
DEVRT_EXPORT void devrt_set_error(const char *message);

/* Threads the core may use for work it splits itself; backends use it to
 * size their own parallel loops. */
DEVRT_EXPORT int devrt_num_threads(void);

typedef int (*devrt_plugin_init_fn)(uint32_t abi_version);

#ifdef __cplusplus
}
#endif

#endif /* DEVRT_C_API_H */
