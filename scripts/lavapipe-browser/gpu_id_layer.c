// A Vulkan layer for the browser tests (scripts/lavapipe-browser.sh, docs/testing.md): it
// reports the physical device with SwiftShader's vendor and device ids, so that Chromium, which
// on a machine without a GPU accepts no CPU adapter for WebGPU but SwiftShader (and only with
// --enable-unsafe-swiftshader), runs WebGPU on lavapipe, Mesa's far faster CPU Vulkan driver.
// Everything else passes through untouched.
#include <string.h>
#include <vulkan/vk_layer.h>
#include <vulkan/vulkan.h>

#define EXPORT __attribute__((visibility("default")))

static PFN_vkGetInstanceProcAddr next_instance_proc;
static PFN_vkGetDeviceProcAddr next_device_proc;
static PFN_vkGetPhysicalDeviceProperties next_properties;
static PFN_vkGetPhysicalDeviceProperties2 next_properties2;
static PFN_vkGetPhysicalDeviceProperties2 next_properties2_khr;

static void as_swiftshader(VkPhysicalDeviceProperties *p) {
  p->vendorID = 0x1AE0;
  p->deviceID = 0xC0DE;
}
static VKAPI_ATTR void VKAPI_CALL properties(VkPhysicalDevice d, VkPhysicalDeviceProperties *p) {
  next_properties(d, p);
  as_swiftshader(p);
}
static VKAPI_ATTR void VKAPI_CALL properties2(VkPhysicalDevice d, VkPhysicalDeviceProperties2 *p) {
  next_properties2(d, p);
  as_swiftshader(&p->properties);
}
static VKAPI_ATTR void VKAPI_CALL properties2_khr(VkPhysicalDevice d, VkPhysicalDeviceProperties2 *p) {
  next_properties2_khr(d, p);
  as_swiftshader(&p->properties);
}

static VKAPI_ATTR VkResult VKAPI_CALL create_instance(const VkInstanceCreateInfo *info,
                                                      const VkAllocationCallbacks *alloc,
                                                      VkInstance *instance) {
  VkLayerInstanceCreateInfo *link = (VkLayerInstanceCreateInfo *)info->pNext;
  while (link && !(link->sType == VK_STRUCTURE_TYPE_LOADER_INSTANCE_CREATE_INFO &&
                   link->function == VK_LAYER_LINK_INFO))
    link = (VkLayerInstanceCreateInfo *)link->pNext;
  if (!link) return VK_ERROR_INITIALIZATION_FAILED;
  next_instance_proc = link->u.pLayerInfo->pfnNextGetInstanceProcAddr;
  link->u.pLayerInfo = link->u.pLayerInfo->pNext; // the next layer finds its own link
  PFN_vkCreateInstance create =
      (PFN_vkCreateInstance)next_instance_proc(VK_NULL_HANDLE, "vkCreateInstance");
  VkResult result = create(info, alloc, instance);
  if (result != VK_SUCCESS) return result;
  next_properties = (PFN_vkGetPhysicalDeviceProperties)next_instance_proc(
      *instance, "vkGetPhysicalDeviceProperties");
  next_properties2 = (PFN_vkGetPhysicalDeviceProperties2)next_instance_proc(
      *instance, "vkGetPhysicalDeviceProperties2");
  next_properties2_khr = (PFN_vkGetPhysicalDeviceProperties2)next_instance_proc(
      *instance, "vkGetPhysicalDeviceProperties2KHR");
  return VK_SUCCESS;
}

static VKAPI_ATTR VkResult VKAPI_CALL create_device(VkPhysicalDevice gpu,
                                                    const VkDeviceCreateInfo *info,
                                                    const VkAllocationCallbacks *alloc,
                                                    VkDevice *device) {
  VkLayerDeviceCreateInfo *link = (VkLayerDeviceCreateInfo *)info->pNext;
  while (link && !(link->sType == VK_STRUCTURE_TYPE_LOADER_DEVICE_CREATE_INFO &&
                   link->function == VK_LAYER_LINK_INFO))
    link = (VkLayerDeviceCreateInfo *)link->pNext;
  if (!link) return VK_ERROR_INITIALIZATION_FAILED;
  PFN_vkGetInstanceProcAddr instance_proc = link->u.pLayerInfo->pfnNextGetInstanceProcAddr;
  next_device_proc = link->u.pLayerInfo->pfnNextGetDeviceProcAddr;
  link->u.pLayerInfo = link->u.pLayerInfo->pNext;
  PFN_vkCreateDevice create = (PFN_vkCreateDevice)instance_proc(VK_NULL_HANDLE, "vkCreateDevice");
  return create(gpu, info, alloc, device);
}

EXPORT VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL vkGetDeviceProcAddr(VkDevice device,
                                                                    const char *name) {
  if (!strcmp(name, "vkGetDeviceProcAddr")) return (PFN_vkVoidFunction)vkGetDeviceProcAddr;
  return next_device_proc(device, name);
}

EXPORT VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL vkGetInstanceProcAddr(VkInstance instance,
                                                                      const char *name) {
  static const struct {
    const char *name;
    PFN_vkVoidFunction function;
  } hooks[] = {
      {"vkGetInstanceProcAddr", (PFN_vkVoidFunction)vkGetInstanceProcAddr},
      {"vkGetDeviceProcAddr", (PFN_vkVoidFunction)vkGetDeviceProcAddr},
      {"vkCreateInstance", (PFN_vkVoidFunction)create_instance},
      {"vkCreateDevice", (PFN_vkVoidFunction)create_device},
      {"vkGetPhysicalDeviceProperties", (PFN_vkVoidFunction)properties},
      {"vkGetPhysicalDeviceProperties2", (PFN_vkVoidFunction)properties2},
      {"vkGetPhysicalDeviceProperties2KHR", (PFN_vkVoidFunction)properties2_khr},
  };
  for (size_t i = 0; i < sizeof hooks / sizeof hooks[0]; i++)
    if (!strcmp(name, hooks[i].name)) return hooks[i].function;
  return next_instance_proc(instance, name);
}
